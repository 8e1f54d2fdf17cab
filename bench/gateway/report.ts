/**
 * The gateway bench's figures: one row per N and path, differences from the floor (the
 * simulator reached directly, in the same wire format), the table, and the goals line.
 */
import { formatTable } from '../harness.ts';
import type { Format, LoadResult } from './load.ts';

export interface GatewayCost {
  /** CPU of the gateway's processes during the measured rounds, over the streams they carried. */
  cpuMsPerStream: number;
  rss: { idle: number; peak: number; after: number };
}

export interface Row {
  n: number;
  /** How far apart the upstream sent the deltas, in ms. */
  gapMs: number;
  path: string;
  format: Format;
  /** No gateway: the simulator reached directly. */
  floor: boolean;
  streamsPerSlot: number;
  load: LoadResult;
  warmup: { errors: number; stalled: number };
  gateway: GatewayCost | undefined;
  /** CPU during the measured run, in % of one core: a saturated simulator or load generator limits every path. */
  cpuPercent: { gateway: number; upstream: number; loadGenerator: number };
}

export interface Derived {
  /** p99 TTFT minus the floor's at the same N, in ms. */
  addedTtftP99: number | undefined;
  /** p99 gap between deltas minus the floor's at the same N, in ms. */
  addedGapP99: number | undefined;
  /** Gateway memory at peak over idle, per concurrent stream, in bytes. */
  bytesPerStream: number | undefined;
}

export function floorOf(rows: readonly Row[], row: Row): Row | undefined {
  return rows.find(
    (other) => other.floor && other.n === row.n && other.gapMs === row.gapMs && other.format === row.format,
  );
}

export function derive(rows: readonly Row[], row: Row): Derived {
  const floor = row.floor ? undefined : floorOf(rows, row);
  return {
    addedTtftP99: floor && row.load.ttft.p99 - floor.load.ttft.p99,
    addedGapP99: floor && row.load.gap.p99 - floor.load.gap.p99,
    bytesPerStream: row.gateway && Math.max(0, row.gateway.rss.peak - row.gateway.rss.idle) / row.n,
  };
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '—');
/** A difference in ms with its sign (− for below), or — when there is none. */
export const signedMs = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value)
    ? '—'
    : `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

export function table(rows: readonly Row[]): string {
  const header = [
    'N',
    'paced',
    'path',
    'TTFT p50',
    'TTFT p99',
    'ΔTTFT p99',
    'gap p99',
    'Δgap p99',
    'errors',
    'stalled',
    'CPU/stream',
    'RSS idle/peak/after',
    'mem/stream',
  ];
  const body = rows.map((row) => {
    const derived = derive(rows, row);
    const cost = row.gateway;
    return [
      String(row.n),
      `${row.gapMs} ms`,
      row.path,
      ms(row.load.ttft.p50),
      ms(row.load.ttft.p99),
      signedMs(derived.addedTtftP99),
      ms(row.load.gap.p99),
      signedMs(derived.addedGapP99),
      String(row.load.errors),
      String(row.load.stalled),
      cost ? `${cost.cpuMsPerStream.toFixed(2)} ms` : '—',
      cost ? `${mb(cost.rss.idle)}/${mb(cost.rss.peak)}/${mb(cost.rss.after)} MB` : '—',
      derived.bytesPerStream === undefined ? '—' : `${(derived.bytesPerStream / 1000).toFixed(1)} KB`,
    ];
  });
  return formatTable(header, body);
}

/**
 * The relay's goals (issue 20), as ratios to node-pipe measured in the same run: CPU per held
 * stream at the largest held N (≤ 1.2× with the memory log, ≤ 1.4× with Redis, ≤ 1.6× for the
 * OpenAI route), none stalled there, memory per held stream ≤ 1.3×, and TTFT at N = 1 within
 * 0.2 ms (p50) and 0.5 ms (p99) of node-pipe's.
 *
 * A ratio is judged only where node-pipe and the path both held every stream: a process that
 * falls behind reads and writes many events at once, so its CPU per stream drops as it stalls,
 * and a saturated pair's ratio says nothing about the relay. Where the largest N saturated
 * either, its ratio is printed for the record and the verdict comes from the largest N where
 * neither stalled.
 */
export function goalLines(rows: readonly Row[]): string[] {
  const held = rows.filter((row) => row.path === 'node-pipe' && row.gapMs >= 100).map((row) => row.n);
  const heldNs = [...new Set(held)].sort((a, b) => b - a);
  const top = heldNs[0];
  const row = (path: string, n: number | undefined) => rows.find((r) => r.path === path && r.n === n);
  const clean = (r: Row | undefined) => r?.gateway !== undefined && r.load.stalled + r.load.errors === 0;
  /** The largest held N where node-pipe and the path both held every stream. */
  const fairN = (path: string) => heldNs.find((n) => clean(row(path, n)) && clean(row('node-pipe', n)));
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const saturated = (path: string, n: number) =>
    `node-pipe stalled ${stalledOf(row('node-pipe', n))}, ${path} ${stalledOf(row(path, n))}: saturated, no verdict`;
  /** One goal's line(s): at the largest N, and at the largest fair N when that is another. */
  const ratioGoal = (
    path: string,
    limit: number,
    describe: (n: number, ratio: number, value: number) => string,
    value: (r: Row) => number,
  ) => {
    const at = (n: number | undefined) => {
      const mine = row(path, n);
      const pipe = row('node-pipe', n);
      if (n === undefined || !mine?.gateway || !pipe?.gateway) return undefined;
      return { n, value: value(mine), ratio: value(mine) / value(pipe) };
    };
    const last = at(top);
    if (last === undefined) return;
    const fair = fairN(path);
    if (fair === top) {
      lines.push(`${describe(last.n, last.ratio, last.value)} ${verdict(last.ratio <= limit)}`);
      return;
    }
    lines.push(`${describe(last.n, last.ratio, last.value)} (${saturated(path, last.n)})`);
    const judged = at(fair);
    if (judged === undefined) lines.push(`${path}: no held N where both held every stream: MISS`);
    else lines.push(`${describe(judged.n, judged.ratio, judged.value)} ${verdict(judged.ratio <= limit)}`);
  };
  const cpuGoal = (path: string, limit: number) =>
    ratioGoal(
      path,
      limit,
      (n, ratio, ms) =>
        `${path}: CPU per held stream at N=${n} ${ms.toFixed(2)} ms, ${ratio.toFixed(2)}× node-pipe's (goal ≤ ${limit}×)`,
      (r) => r.gateway!.cpuMsPerStream,
    );
  cpuGoal('sluice', 1.2);
  cpuGoal('sluice-redis', 1.4);
  cpuGoal('sluice-openai', 1.6);
  const mine = row('sluice', top);
  if (mine?.gateway && row('node-pipe', top)?.gateway) {
    const stalled = mine.load.stalled + mine.load.errors;
    lines.push(
      `sluice: ${top} held streams, ${mine.load.stalled} stalled, ${mine.load.errors} errors (goal none) ${verdict(stalled === 0)}`,
    );
    ratioGoal(
      'sluice',
      1.3,
      (n, ratio, bytes) =>
        `sluice: memory per held stream at N=${n} ${(bytes / 1000).toFixed(1)} KB, ${ratio.toFixed(2)}× node-pipe's (goal ≤ 1.3×)`,
      (r) => derive(rows, r).bytesPerStream ?? Number.NaN,
    );
  }
  const one = row('sluice', 1);
  const pipeOne = row('node-pipe', 1);
  if (one && pipeOne) {
    const p50 = one.load.ttft.p50 - pipeOne.load.ttft.p50;
    const p99 = one.load.ttft.p99 - pipeOne.load.ttft.p99;
    lines.push(
      `sluice: TTFT at N=1 (${one.load.streams} streams) ${signedMs(p50)} ms p50, ${signedMs(p99)} ms p99 over ` +
        `node-pipe's (goal ≤ 0.2 and ≤ 0.5) ${verdict(p50 <= 0.2 && p99 <= 0.5)}`,
    );
  }
  return lines.length > 0
    ? ['goals (issue 20, ratios to node-pipe in this run):', ...lines.map((line) => `  ${line}`)]
    : [];
}

function stalledOf(row: Row | undefined): string {
  if (row === undefined) return '—';
  return row.load.errors > 0 ? `${row.load.stalled} (+${row.load.errors} errors)` : String(row.load.stalled);
}
