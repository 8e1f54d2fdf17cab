import { describe, expect, it } from 'vitest';
import { goalLines, type Row } from '../../bench/gateway/report.ts';

const percentiles = { count: 1, p50: 1, p90: 1, p99: 1, max: 1 };

/** A held-phase row: CPU per stream in ms, peak memory over idle in MB, and how many stalled. */
function held(path: string, n: number, cpuMs: number, memoryMb: number, stalled = 0, errors = 0): Row {
  return {
    n,
    gapMs: 200,
    path,
    format: path === 'sluice-openai' ? 'openai' : 'anthropic',
    floor: false,
    streamsPerSlot: 2,
    load: {
      streams: 2 * n,
      ttft: percentiles,
      gap: percentiles,
      frames: 0,
      deltas: 0,
      errors,
      stalled,
      errorSamples: [],
      wallMs: 1,
    },
    warmup: { errors: 0, stalled: 0 },
    gateway: { cpuMsPerStream: cpuMs, rss: { idle: 0, peak: memoryMb * 2 ** 20, after: 0 } },
    cpuPercent: { gateway: 0, upstream: 0, loadGenerator: 0 },
  };
}

describe('the gateway bench goal lines', () => {
  it('judges the ratios at the largest N when node-pipe and the path both held every stream', () => {
    const lines = goalLines([
      held('node-pipe', 2000, 4, 200),
      held('sluice', 2000, 4.4, 240),
      held('node-pipe', 5000, 3, 500),
      held('sluice', 5000, 3.3, 600),
    ]);
    expect(lines).toContain(
      "  sluice: CPU per held stream at N=5000 3.30 ms, 1.10× node-pipe's (goal ≤ 1.2×) PASS",
    );
    expect(lines).toContain('  sluice: 5000 held streams, 0 stalled, 0 errors (goal none) PASS');
    expect(lines.filter((line) => line.includes('N=2000'))).toEqual([]);
  });

  it('gives a saturated N no verdict and judges the largest N where neither stalled', () => {
    // At 5000 both fell behind: the ratio looks like a pass (a stalled process writes many
    // events at a time), but the verdict is the 2000 one, where both held every stream.
    const lines = goalLines([
      held('node-pipe', 2000, 3.7, 230),
      held('sluice', 2000, 6.1, 440),
      held('sluice-openai', 2000, 5.5, 400),
      held('node-pipe', 5000, 3.65, 250, 3327, 93),
      held('sluice', 5000, 3.95, 630, 8066),
      held('sluice-openai', 5000, 3.89, 600, 8823),
    ]);
    expect(lines).toEqual(
      expect.arrayContaining([
        "  sluice: CPU per held stream at N=5000 3.95 ms, 1.08× node-pipe's (goal ≤ 1.2×) (node-pipe stalled 3327 (+93 errors), sluice 8066: saturated, no verdict)",
        "  sluice: CPU per held stream at N=2000 6.10 ms, 1.65× node-pipe's (goal ≤ 1.2×) MISS",
        "  sluice-openai: CPU per held stream at N=2000 5.50 ms, 1.49× node-pipe's (goal ≤ 1.6×) PASS",
        "  sluice: memory per held stream at N=2000 230.7 KB, 1.91× node-pipe's (goal ≤ 1.3×) MISS",
        '  sluice: 5000 held streams, 8066 stalled, 0 errors (goal none) MISS',
      ]),
    );
    expect(
      lines.some((line) => line.includes('N=5000') && /PASS|MISS$/.test(line) && line.includes('CPU')),
    ).toBe(false);
  });

  it('misses a ratio goal when no held N was clean for both', () => {
    const lines = goalLines([held('node-pipe', 2000, 3, 200), held('sluice', 2000, 3.1, 210, 5)]);
    expect(lines).toContain('  sluice: no held N where both held every stream: MISS');
  });
});
