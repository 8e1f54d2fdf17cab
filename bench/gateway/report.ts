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

/** The goals, for the Sluice gateway only. */
export function goalsLine(rows: readonly Row[], path = 'sluice'): string {
  const mine = rows.filter((row) => row.path === path);
  if (mine.length === 0) return `goals (${path} gateway): not measured yet`;
  const at = (n: number) => mine.find((row) => row.n === n);
  const verdicts: string[] = [];
  const ttftGoal = (n: number, limitMs: number) => {
    const row = at(n);
    const added = row && derive(rows, row).addedTtftP99;
    verdicts.push(
      added === undefined
        ? `ΔTTFT p99 at N=${n}: not measured`
        : `ΔTTFT p99 at N=${n}: ${signedMs(added)} ms (goal < ${limitMs}) ${added < limitMs ? 'PASS' : 'MISS'}`,
    );
  };
  ttftGoal(1, 1);
  ttftGoal(100, 2);
  const top = at(5000);
  if (top === undefined) {
    verdicts.push('5000 streams: not measured');
  } else {
    const perStream = derive(rows, top).bytesPerStream ?? Number.NaN;
    const held = top.load.stalled === 0 && top.load.errors === 0;
    verdicts.push(
      `5000 streams: ${top.load.stalled} stalled, ${top.load.errors} errors, ${(perStream / 1000).toFixed(1)} KB each ` +
        `(goal 0, 0, < 50 KB) ${held && perStream < 50_000 ? 'PASS' : 'MISS'}`,
    );
  }
  return `goals (${path} gateway): ${verdicts.join(' · ')}`;
}
