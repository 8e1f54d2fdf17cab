import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import { listenBacklogOf } from '../helpers/sockets.ts';

describe('Simulator listening', () => {
  it('queues bursts of connections: a backlog of 4096 by default (capped at somaxconn), or the one given', async () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    const byDefault = await Simulator.start();
    const given = await Simulator.start({ backlog: 64 });
    try {
      expect(listenBacklogOf(byDefault.url)).toBe(Math.min(4096, somaxconn));
      expect(listenBacklogOf(given.url)).toBe(64);
    } finally {
      await Promise.all([byDefault.close(), given.close()]);
    }
  });
});
