import type { Command } from 'commander';
import { loadConfig } from '../server/config.ts';
import { startGateway } from '../server/start.ts';
import { integerOption } from './options.ts';

interface ServeOptions {
  port?: number;
  host?: string;
  config?: string;
  insecure?: boolean;
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
    .action(async (options: ServeOptions) => {
      const { config, warnings, path } = loadConfig({
        path: options.config,
        overrides: { host: options.host, port: options.port },
      });
      for (const warning of warnings) process.stderr.write(`sluice serve: warning: ${warning}\n`);
      const gateway = await startGateway(config, { insecure: options.insecure });
      process.stdout.write(
        `sluice serve listening on ${gateway.url} (default model ${config.defaultModel}${path ? `, config ${path}` : ''})\n`,
      );
      const stop = (signal: string) => {
        process.stderr.write(
          `sluice serve: ${signal}: finishing streams in flight (up to ${config.server.shutdownGraceMs} ms)\n`,
        );
        void gateway.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
