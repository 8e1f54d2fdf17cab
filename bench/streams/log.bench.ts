/**
 * `npm run bench:streams [-- --streams N --batches M]`: the stream log's cost per stream,
 * memory against Redis. Each store takes N streams written concurrently, M batches of one
 * text-delta event each (a relay's typical network batch), finished; then every stream is read
 * back from the start. Reported per stream: CPU of this process and, for Redis, of
 * redis-server too (a private one on a free port, so nothing else is counted), and the
 * Redis commands it took (INFO commandstats, Lua's inner calls included).
 */
import { Redis } from 'ioredis';
import {
  encodeBatch,
  type Lease,
  MemoryStreamLog,
  openRedisStreamLog,
  type StreamLog,
} from '../../src/server/streams/index.ts';
import { PrivateRedis } from '../../test/server/streams/redis-service.ts';
import { cpuMs } from '../gateway/procstat.ts';
import { formatTable } from '../harness.ts';
import { machine } from '../machine.ts';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}
const STREAMS = option('streams', 500);
const BATCHES = option('batches', 100);

interface Phase {
  wallMs: number;
  cpuMs: number;
  redisCpuMs: number;
  commands: number;
}

async function commandCounts(redis: Redis | undefined): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!redis) return counts;
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    counts.set(match[1]!, Number(match[2]));
  }
  return counts;
}

async function measure(
  redisPid: number | undefined,
  probe: Redis | undefined,
  run: () => Promise<void>,
): Promise<{ phase: Phase; byCommand: Map<string, number> }> {
  const commandsBefore = await commandCounts(probe);
  const redisBefore = redisPid === undefined ? 0 : (cpuMs(redisPid) ?? 0);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpuMs = redisPid === undefined ? 0 : (cpuMs(redisPid) ?? 0) - redisBefore;
  const commandsAfter = await commandCounts(probe);
  const byCommand = new Map<string, number>();
  let commands = 0;
  for (const [name, calls] of commandsAfter) {
    const delta = calls - (commandsBefore.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (delta > 0) {
      byCommand.set(name, delta);
      commands += delta;
    }
  }
  return { phase: { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, redisCpuMs, commands }, byCommand };
}

const text = 'Hello, this is one token of a streamed answer. ';

async function writeStreams(log: StreamLog, run: string): Promise<string[]> {
  const leases: Lease[] = await Promise.all(
    Array.from({ length: STREAMS }, (_, i) =>
      log.create({
        id: `bench_${run}_${i}`,
        request: { model: 'bench', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] },
        wire: 'anthropic',
        ownerKeyHash: 'bench',
        owner: 'bench-instance',
      }),
    ),
  );
  for (let seq = 1; seq <= BATCHES; seq++) {
    const entry = encodeBatch(seq, [
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    ]);
    await Promise.all(leases.map((lease) => log.append(lease, entry)));
  }
  await Promise.all(
    leases.map((lease) => log.finish(lease, { message: null, usage: { output_tokens: BATCHES } })),
  );
  return leases.map((lease) => lease.streamId);
}

async function readStreams(log: StreamLog, ids: readonly string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      let bytes = 0;
      for await (const entry of log.read(id)) bytes += entry.data.length;
      if (bytes === 0) throw new Error(`stream ${id} read back empty`);
    }),
  );
}

async function bench(name: string, log: StreamLog, redisPid?: number, probe?: Redis) {
  // A warm-up run, not counted: the JIT, the scripts' first EVAL, the connections.
  await readStreams(log, await writeStreams(log, `${name}_warm`));
  let ids: string[] = [];
  const write = await measure(redisPid, probe, async () => {
    ids = await writeStreams(log, name);
  });
  const read = await measure(redisPid, probe, () => readStreams(log, ids));
  return { name, write, read };
}

const results = [];
results.push(await bench('memory', new MemoryStreamLog()));
const server = await PrivateRedis.start();
const probe = new Redis(server.url);
const redisLog = await openRedisStreamLog(server.url);
try {
  results.push(await bench('redis', redisLog, server.pid, probe));
} finally {
  await redisLog.close();
  probe.disconnect();
  await server.kill();
}

const perStream = (value: number) => (value / STREAMS).toFixed(3);
console.log(
  `stream log: ${STREAMS} streams × ${BATCHES} batches (one event each), ${JSON.stringify(machine())}`,
);
console.log(
  formatTable(
    [
      'store',
      'phase',
      'wall ms',
      'node CPU ms/stream',
      'redis CPU ms/stream',
      'total CPU ms/stream',
      'commands/stream',
    ],
    results.flatMap(({ name, write, read }) =>
      (
        [
          ['write', write.phase],
          ['read', read.phase],
        ] as const
      ).map(([phase, p]) => [
        name,
        phase,
        p.wallMs.toFixed(0),
        perStream(p.cpuMs),
        perStream(p.redisCpuMs),
        perStream(p.cpuMs + p.redisCpuMs),
        perStream(p.commands),
      ]),
    ),
  ),
);
for (const { name, write, read } of results) {
  if (write.byCommand.size === 0) continue;
  const describe = (counts: Map<string, number>) =>
    [...counts].map(([command, calls]) => `${command} ${(calls / STREAMS).toFixed(2)}`).join(', ');
  console.log(`${name} write, commands per stream: ${describe(write.byCommand)}`);
  console.log(`${name} read, commands per stream: ${describe(read.byCommand)}`);
}
const [memory, redis] = results;
if (memory && redis) {
  const total = (r: typeof memory) => r.write.phase.cpuMs + r.write.phase.redisCpuMs;
  console.log(
    `write CPU per stream: redis ${perStream(total(redis))} ms against memory ${perStream(total(memory))} ms (×${(total(redis) / total(memory)).toFixed(1)})`,
  );
}
