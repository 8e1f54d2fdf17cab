import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { describeListenUrls, listenUrls } from '../../src/server/listen-urls.ts';

describe('listenUrls', () => {
  it('a specific address is the one URL', () => {
    const urls = listenUrls('127.0.0.1', 8787);
    expect(urls).toEqual({ bound: 'http://127.0.0.1:8787', reachable: ['http://127.0.0.1:8787'] });
    expect(describeListenUrls(urls)).toBe('http://127.0.0.1:8787');
    expect(listenUrls('::1', 80).bound).toBe('http://[::1]:80');
  });

  it('0.0.0.0 is every IPv4 interface; :: adds the IPv6 ones (bracketed, link-local left out)', () => {
    const interfaces = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
    const v4 = interfaces.filter((info) => info.family === 'IPv4').map((info) => `http://${info.address}:1`);
    const all = listenUrls('0.0.0.0', 1);
    expect(all.bound).toBe('http://0.0.0.0:1');
    expect(all.reachable).toEqual(v4);
    const dual = listenUrls('::', 1);
    expect(dual.bound).toBe('http://[::]:1');
    expect(dual.reachable).toEqual(expect.arrayContaining(v4));
    for (const url of dual.reachable.filter((url) => url.includes('['))) expect(url).not.toMatch(/\[fe80/);
    expect(describeListenUrls(all)).toBe(`http://0.0.0.0:1 (reachable at ${v4.join(', ')})`);
  });
});
