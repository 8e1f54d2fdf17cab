import cluster from 'node:cluster';
import type { Command } from 'commander';
import { assertSafeBinding, type GatewayConfig, loadConfig } from '../server/config.ts';
import { describeListenUrls, listenUrls } from '../server/listen-urls.ts';
import type { RunningGateway } from '../server/start.ts';
import { INTERRUPTED_EXIT_CODE, integerOption } from './options.ts';
import { GATEWAY_PACKAGES, importPeers } from './peers.ts';

/** The gateway, loaded when `serve` runs: its packages are optional dependencies of sluice. */
async function loadGateway() {
  return importPeers('sluice serve', GATEWAY_PACKAGES, async () => ({
    ...(await import('../server/start.ts')),
    ...(await import('../server/cluster/primary.ts')),
    ...(await import('../server/cluster/worker.ts')),
  }));
}

interface ServeOptions {
  port?: number;
  host?: string;
  config?: string;
  insecure?: boolean;
  workers?: number;
  streamStore?: string;
}

/**
 * Runs `close` on the first SIGTERM or SIGINT, then exits: 0 for SIGTERM (a service manager's
 * stop), 130 for a terminal's Ctrl-C, as every command exits on it. A cluster worker exits 0
 * either way: its primary reads any other code as a crash.
 */
function closeOnSignal(close: (signal: string) => Promise<void>, options: { worker?: boolean } = {}): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    const code = signal === 'SIGINT' && !options.worker ? INTERRUPTED_EXIT_CODE : 0;
    void close(signal).then(() => process.exit(code));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

function announceShutdown(signal: string, config: GatewayConfig): void {
  process.stderr.write(
    `sluice serve: ${signal}: finishing streams in flight (up to ${config.server.shutdownGraceMs} ms)\n`,
  );
}

/** The banner: the address truly bound (Fastify's URL for 0.0.0.0 says 127.0.0.1) and where it is reachable. */
function listeningLine(url: string, config: GatewayConfig, path: string | undefined): string {
  const where = describeListenUrls(listenUrls(config.server.host, Number(new URL(url).port)));
  const workers = config.server.workers > 1 ? `${config.server.workers} workers, ` : '';
  return `sluice serve listening on ${where} (${workers}default model ${config.defaultModel}${path ? `, config ${path}` : ''})\n`;
}

async function serveAlone(config: GatewayConfig, options: ServeOptions, path: string | undefined) {
  const { startGateway } = await loadGateway();
  const gateway = await startGateway(config, { insecure: options.insecure });
  // Ready for a signal before saying it listens: whoever reads that line may stop it at once.
  closeOnSignal((signal) => {
    announceShutdown(signal, config);
    return gateway.close();
  });
  process.stdout.write(listeningLine(gateway.url, config, path));
}

async function serveAsPrimary(config: GatewayConfig, options: ServeOptions, path: string | undefined) {
  // Refused here, once, rather than by every worker.
  assertSafeBinding(config, { insecure: options.insecure });
  assertSharedStreamStore(config);
  const { startCluster } = await loadGateway();
  const running = await startCluster({
    workers: config.server.workers,
    rateLimit: config.server.rateLimit,
    report: (line) => process.stderr.write(`sluice serve: ${line}\n`),
  });
  closeOnSignal((signal) => {
    announceShutdown(signal, config);
    return running.close();
  });
  process.stdout.write(listeningLine(running.url, config, path));
}

/**
 * Each worker is a process of its own: with the memory store a client resuming a stream would
 * land on a worker that never saw it. A shared store is asked for, rather than resumes that
 * work one time in N.
 */
function assertSharedStreamStore(config: GatewayConfig): void {
  if (config.streams.store !== 'memory') return;
  throw new Error(
    `--workers ${config.server.workers} needs a stream store the workers share, so that a client can resume its answer on any of them: set streams.store, SLUICE_STREAM_STORE or --stream-store to a redis://host:port/db URL (or run one process).`,
  );
}

async function serveAsWorker(config: GatewayConfig, options: ServeOptions) {
  let gateway: RunningGateway;
  try {
    const { startClusterWorker } = await loadGateway();
    gateway = await startClusterWorker(config, { insecure: options.insecure });
  } catch (error) {
    // Exits rather than returning: the channel to the primary would keep this process alive,
    // and the primary is waiting for it to listen or exit.
    process.stderr.write(`sluice serve: worker ${process.pid}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // The primary sends SIGTERM on shutdown; a terminal's Ctrl-C reaches every worker as SIGINT.
  closeOnSignal(() => gateway.close(), { worker: true });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the streaming gateway: Anthropic- and OpenAI-compatible endpoints in front of any Sluice model',
    )
    .option(
      '-p, --port <port>',
      'port to listen on (default 8787; 0 picks a free one)',
      integerOption('--port'),
    )
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('-c, --config <file>', 'configuration file (default: $SLUICE_CONFIG, else built-in defaults)')
    .option('--insecure', 'allow listening beyond loopback without API keys')
    .option(
      '-w, --workers <count>',
      'processes serving the port, sharing one rate limit and one /metrics (default 1; one per core uses every core)',
      integerOption('--workers'),
    )
    .option(
      '--stream-store <store>',
      'where streamed answers are logged for resuming: memory (default) or a redis://host:port/db URL shared by several instances',
    )
    .action(async (options: ServeOptions) => {
      // A worker re-runs this same command line; the primary has already reported the warnings.
      const { config, warnings, path } = loadConfig({
        path: options.config,
        overrides: {
          host: options.host,
          port: options.port,
          workers: options.workers,
          'stream-store': options.streamStore,
        },
      });
      if (cluster.isWorker) return serveAsWorker(config, options);
      for (const warning of warnings) process.stderr.write(`sluice serve: warning: ${warning}\n`);
      if (config.server.workers > 1) return serveAsPrimary(config, options, path);
      return serveAlone(config, options, path);
    });
}
