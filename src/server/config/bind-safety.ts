import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from './errors.ts';
import type { GatewayConfig } from './schema.ts';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether only this machine can reach `host`: 127.0.0.0/8, ::1 (any spelling) or localhost. */
export function isLoopback(host: string): boolean {
  const bare = host
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return LOOPBACK.check(bare, 'ipv4');
  // BlockList also matches IPv4-mapped addresses (::ffff:127.0.0.1) against the IPv4 rule.
  if (isIPv6(bare)) return LOOPBACK.check(bare, 'ipv6');
  return false; // any other name may resolve to a public address
}

/**
 * Refuses to serve other machines without authentication: every caller would spend the
 * providers' keys. `--insecure` is the explicit way to do it anyway (e.g. behind a proxy that authenticates).
 */
export function assertSafeBinding(config: GatewayConfig, options: { insecure?: boolean } = {}): void {
  const { host, apiKeys, apiKeysEnv } = config.server;
  // A database holds the gateway's keys: with one, every caller needs a key.
  if (options.insecure || apiKeys.length > 0 || config.database !== undefined || isLoopback(host)) return;
  throw new ConfigError(
    `Listening on ${host} without API keys would let anyone use your providers' keys; set ${apiKeysEnv} or pass --insecure`,
  );
}
