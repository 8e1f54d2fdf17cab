import { networkInterfaces } from 'node:os';

/** Where a gateway listens, said truly: the address bound, and where clients can reach it. */
export interface ListenUrls {
  /** The address the socket is bound to (`http://0.0.0.0:8787` when it is every interface). */
  bound: string;
  /** Each interface's address when bound to all of them; otherwise the bound address alone. */
  reachable: string[];
}

/**
 * The URLs of a gateway bound to `host` on `port`. Bound to an unspecified address (`0.0.0.0`,
 * `::`), it is reachable at every interface's address, which is what an operator needs to
 * know (and `127.0.0.1` alone, which is what Fastify reports, is not the truth).
 */
export function listenUrls(host: string, port: number): ListenUrls {
  const bound = urlOf(host, port);
  const unspecified = host === '0.0.0.0' || host === '::' || host === '[::]';
  if (!unspecified) return { bound, reachable: [bound] };
  const ipv6Too = host !== '0.0.0.0';
  const reachable: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const info of addresses ?? []) {
      // Link-local IPv6 needs a zone index that a URL cannot carry usefully.
      if (info.family === 'IPv4' || (ipv6Too && !info.address.startsWith('fe80'))) {
        reachable.push(urlOf(info.address, port));
      }
    }
  }
  return { bound, reachable };
}

function urlOf(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return `http://${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}

/** The banner's text for them: the bound URL, then where it is reachable when that says more. */
export function describeListenUrls(urls: ListenUrls): string {
  if (urls.reachable.length === 1 && urls.reachable[0] === urls.bound) return urls.bound;
  return `${urls.bound} (reachable at ${urls.reachable.join(', ')})`;
}
