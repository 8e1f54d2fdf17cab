// The process startMeasuredGateway forks: the configured gateway, measured on request.
import { loadConfig } from '../../src/server/config.ts';
import { startGateway } from '../../src/server/start.ts';

const { config } = loadConfig({ path: process.argv[2], overrides: { port: 0 } });
const gateway = await startGateway(config);
const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', () => {
  gc?.();
  gc?.();
  const { heapUsed, external, rss } = process.memoryUsage();
  process.send?.({ heapUsed, external, rss });
});
process.send?.({ url: gateway.url });
