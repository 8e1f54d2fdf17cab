/**
 * The least a Node gateway can do: a reverse proxy on `node:http` that forwards the request and
 * copies the upstream's bytes to the client as they come, understanding none of them. No
 * framework, no parsing, no retries. Its cost is what any gateway written for Node pays on this
 * machine before it does anything useful, so the Sluice gateway's figures can be read against
 * it as well as against nginx. Arguments: port upstreamURL.
 */
import { Agent, createServer, request } from 'node:http';

const [port = '0', upstream = ''] = process.argv.slice(2);
const target = new URL(upstream);
const agent = new Agent({ keepAlive: true });

const server = createServer((req, res) => {
  const forwarded = request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: target.host },
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      res.socket?.setNoDelay(true);
      answer.on('data', (chunk: Buffer) => {
        // Backpressure, as any proxy must: stop reading while the client is slow.
        if (!res.write(chunk)) {
          answer.pause();
          res.once('drain', () => answer.resume());
        }
      });
      answer.on('end', () => res.end());
      answer.on('error', () => res.destroy());
    },
  );
  forwarded.on('error', () => res.destroy());
  res.on('close', () => forwarded.destroy());
  req.pipe(forwarded);
});
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
