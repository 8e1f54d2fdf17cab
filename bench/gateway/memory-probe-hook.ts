/**
 * Preloaded into a gateway by memory-probe.ts (`node --import <this file> …`): on SIGUSR2 it
 * writes the process's memory figures before a full GC, a heap snapshot (which collects first),
 * and the figures after, to MEMORY_PROBE_DIR/probe-<n>.json and .heapsnapshot. The figures
 * before and after tell garbage from live heap; the snapshot tells what the live heap is. On
 * SIGWINCH it writes the figures alone (no GC) to figures-<n>.json: what RSS is made of.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';

const dir = process.env.MEMORY_PROBE_DIR ?? '.';
let taken = 0;

const figures = () => {
  const usage = process.memoryUsage();
  const heap = getHeapStatistics();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    /** V8's own view of what it committed (heapTotal includes reserved new space). */
    heapCommitted: heap.total_physical_size,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    mallocedMemory: heap.malloced_memory,
  };
};

process.on('SIGUSR2', () => {
  const name = `probe-${++taken}`;
  const before = figures();
  writeHeapSnapshot(join(dir, `${name}.heapsnapshot`));
  const after = figures();
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ before, after }));
});

let figured = 0;
process.on('SIGWINCH', () => {
  writeFileSync(join(dir, `figures-${++figured}.json`), JSON.stringify(figures()));
});
