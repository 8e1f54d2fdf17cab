import { PermissionDeniedError } from '../protocol/errors.ts';

/** The names a loopback gateway always answers to: what a browser on this machine sends. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Refuses requests whose `Host` is not this machine's (nor a configured name). A gateway on
 * loopback without keys trusts whoever can reach it, and a web page can reach it by DNS
 * rebinding: its own name re-resolved to 127.0.0.1, the browser still sending that name as
 * `Host`. Checking `Host` shuts that door; the port is not checked (any port is this machine).
 */
export function hostChecker(allowed: readonly string[]): (host: string | undefined) => void {
  const names = new Set([...LOOPBACK_NAMES, ...allowed].map((name) => name.toLowerCase()));
  return (host) => {
    const name = hostName(host ?? '');
    if (names.has(name)) return;
    throw new PermissionDeniedError(
      `Host '${(host ?? '').slice(0, 100)}' is refused: this gateway listens on loopback without API keys, so it answers only to localhost, 127.0.0.1 and [::1] (a web page could otherwise reach it by DNS rebinding). Add the name to server.allowedHosts to use it.`,
    );
  };
}

/** The name part of a Host header, lower case: `[::1]:8787` → `[::1]`, `Localhost:80` → `localhost`. */
function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.indexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}
