import type { Command } from 'commander';
import { parseFaultScript } from '../providers/simulated/faults.ts';
import { DEMO_PACING } from '../providers/simulated/provider.ts';
import { Simulator } from '../server/simulator/simulator.ts';
import { INTERRUPTED_EXIT_CODE, integerOption } from './options.ts';

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description(
      'serve the simulated model over HTTP: Anthropic POST /v1/messages and OpenAI POST /v1/chat/completions',
    )
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', integerOption('--port'), 8788)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--faults <json>', 'a fault (or a list, one per request) applied to every request')
    .option('--ttft <ms>', 'time to first token', integerOption('--ttft'), DEMO_PACING.ttftMs)
    .option(
      '--tps <n>',
      'output tokens per second (0: as fast as possible)',
      integerOption('--tps'),
      DEMO_PACING.tokensPerSecond,
    )
    .addHelpText(
      'after',
      `
Faults (JSON, also per request in the x-sluice-fault header):
  {"status":429,"retryAfter":"1"}   {"dropAfterBytes":300}   {"errorAfterDeltas":5}
  {"stallAfterDeltas":3}   {"chunkSize":1,"crlf":true}   [{"status":529},{}]  (a script: one per request)`,
    )
    .action(async (options: { port: number; host: string; faults?: string; ttft: number; tps: number }) => {
      const faults = options.faults === undefined ? undefined : parseFaultScript(options.faults, '--faults');
      const simulator = await Simulator.start({
        port: options.port,
        host: options.host,
        faults,
        pacing: { ttftMs: options.ttft, tokensPerSecond: options.tps },
      });
      // Ctrl-C exits 130 as in every command; a service manager's SIGTERM is a normal stop.
      // Ready for them before saying it listens: whoever reads that line may stop it at once.
      const stop = (code: number) => void simulator.close().then(() => process.exit(code));
      process.once('SIGINT', () => stop(INTERRUPTED_EXIT_CODE));
      process.once('SIGTERM', () => stop(0));
      process.stdout.write(`sluice simulate listening on ${simulator.url}\n`);
    });
}
