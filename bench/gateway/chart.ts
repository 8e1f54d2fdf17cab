/**
 * The bench's chart as hand-written SVG (no dependency): added p99 TTFT over the floor against
 * the number of concurrent streams, one line per gateway, both axes logarithmic because the
 * gateways differ by orders of magnitude (nginx adds tenths of a millisecond).
 */

export interface Series {
  path: string;
  /** `stalled`: the run had stalled or failed streams; drawn as a cross at the top, off the line. */
  points: Array<{ n: number; addedMs: number; stalled?: boolean }>;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  /** Short lines under the plot (what is missing and why). */
  footnotes: string[];
  /** Horizontal goal marks, e.g. Sluice's 1 ms at N=1. */
  goals?: Array<{ n: number; ms: number; label: string }>;
  /** From this N on, the upstream was the bottleneck: shaded. */
  saturatedFrom?: number;
}

const WIDTH = 760;
const PLOT = { left: 70, top: 60, width: 520, height: 300 };
const LINE_HEIGHT = 16;
/** Below this the log axis stops: smaller (and negative, i.e. within noise) values sit on it. */
const FLOOR_MS = 0.01;
const COLOURS: Record<string, string> = {
  nginx: '#2f9e44',
  portkey: '#e03131',
  sluice: '#1971c2',
  'sluice-redis': '#5f3dc4',
  'sluice-2w': '#0b7285',
};
const OTHER_COLOURS = ['#f08c00', '#7048e8', '#495057'];

export function renderChart(series: Series[], options: ChartOptions): string {
  const all = series.flatMap((line) => line.points.filter((point) => !point.stalled));
  const every = series.flatMap((line) => line.points);
  const ns = [...every.map((point) => point.n), ...(options.goals ?? []).map((goal) => goal.n)];
  const xMin = Math.floor(Math.log10(Math.min(1, ...ns)));
  const xMax = Math.max(xMin + 1, Math.ceil(Math.log10(Math.max(10, ...ns))));
  const values = [...all.map((point) => point.addedMs), ...(options.goals ?? []).map((goal) => goal.ms)];
  const yMin = Math.log10(FLOOR_MS);
  const yMax = Math.max(1, Math.ceil(Math.log10(Math.max(FLOOR_MS, ...values))));
  const x = (n: number) => PLOT.left + ((Math.log10(n) - xMin) / (xMax - xMin)) * PLOT.width;
  const y = (value: number) =>
    PLOT.top + PLOT.height - ((Math.log10(Math.max(FLOOR_MS, value)) - yMin) / (yMax - yMin)) * PLOT.height;

  const parts: string[] = [];
  const height = PLOT.top + PLOT.height + 56 + options.footnotes.length * LINE_HEIGHT;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="24" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  if (options.subtitle !== undefined) {
    parts.push(`<text x="${PLOT.left}" y="40" fill="#495057">${escapeXml(options.subtitle)}</text>`);
  }
  if (options.saturatedFrom !== undefined) {
    // Half way to the previous decade mark, so the band visibly contains the first saturated N.
    const from = Math.max(PLOT.left, x(options.saturatedFrom / 1.5));
    const right = PLOT.left + PLOT.width;
    parts.push(
      `<rect x="${from}" y="${PLOT.top}" width="${right - from}" height="${PLOT.height}" fill="#f1f3f5"/>`,
      `<text x="${(from + right) / 2}" y="${PLOT.top + PLOT.height - 8}" text-anchor="middle" font-size="11" fill="#868e96">simulator saturated</text>`,
    );
  }

  // Grid and axes: a line per decade on both axes.
  for (let decade = xMin; decade <= xMax; decade++) {
    const at = x(10 ** decade);
    parts.push(
      `<line x1="${at}" y1="${PLOT.top}" x2="${at}" y2="${PLOT.top + PLOT.height}" stroke="#e9ecef"/>`,
      `<text x="${at}" y="${PLOT.top + PLOT.height + 18}" text-anchor="middle">${(10 ** decade).toLocaleString('en-US')}</text>`,
    );
  }
  for (let decade = yMin; decade <= yMax; decade++) {
    const at = y(10 ** decade);
    parts.push(
      `<line x1="${PLOT.left}" y1="${at}" x2="${PLOT.left + PLOT.width}" y2="${at}" stroke="#e9ecef"/>`,
      `<text x="${PLOT.left - 8}" y="${at + 4}" text-anchor="end">${decade === yMin ? '≤ ' : ''}${formatMs(10 ** decade)}</text>`,
    );
  }
  parts.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#868e96"/>`,
    `<text x="${PLOT.left + PLOT.width / 2}" y="${PLOT.top + PLOT.height + 38}" text-anchor="middle">concurrent streams (N, log scale)</text>`,
    `<text transform="translate(18 ${PLOT.top + PLOT.height / 2}) rotate(-90)" text-anchor="middle">added p99 TTFT over direct, ms (log)</text>`,
  );

  for (const goal of options.goals ?? []) {
    const [gx, gy] = [x(goal.n), Number(y(goal.ms).toFixed(1))];
    parts.push(
      `<line x1="${Math.max(PLOT.left, gx - 16)}" y1="${gy}" x2="${gx + 16}" y2="${gy}" stroke="#1971c2" stroke-dasharray="4 3" stroke-width="2"/>`,
      `<text x="${gx + 20}" y="${gy + 4}" fill="#1971c2">${escapeXml(goal.label)}</text>`,
    );
  }

  // Crosses at the same N are stacked, so no gateway's stall hides another's.
  const stalledAt = new Map<number, number>();
  series.forEach((line, index) => {
    const colour = COLOURS[line.path] ?? OTHER_COLOURS[index % OTHER_COLOURS.length]!;
    const points = [...line.points].sort((a, b) => a.n - b.n);
    const held = points.filter((point) => !point.stalled);
    if (held.length > 1) {
      const d = held.map(
        (point, i) => `${i === 0 ? 'M' : 'L'}${x(point.n).toFixed(1)},${y(point.addedMs).toFixed(1)}`,
      );
      parts.push(`<path d="${d.join(' ')}" fill="none" stroke="${colour}" stroke-width="2.5"/>`);
    }
    for (const point of points) {
      const px = x(point.n).toFixed(1);
      if (point.stalled) {
        const stacked = stalledAt.get(point.n) ?? 0;
        stalledAt.set(point.n, stacked + 1);
        const py = PLOT.top + 14 + stacked * 32;
        parts.push(
          `<path d="M${Number(px) - 5},${py - 5} L${Number(px) + 5},${py + 5} M${Number(px) - 5},${py + 5} L${Number(px) + 5},${py - 5}" stroke="${colour}" stroke-width="2.5"/>`,
          `<text x="${px}" y="${py + 20}" text-anchor="middle" font-size="10" fill="${colour}">stalled</text>`,
        );
        continue;
      }
      const py = y(point.addedMs).toFixed(1);
      // Hollow: at or under the axis floor (within noise of direct), not a real 0.01 ms.
      const fill = point.addedMs <= FLOOR_MS ? '#ffffff' : colour;
      parts.push(
        `<circle cx="${px}" cy="${py}" r="4.5" fill="${fill}" stroke="${colour}" stroke-width="2"/>`,
        `<text x="${px}" y="${(Number(py) - 9).toFixed(1)}" text-anchor="middle" font-size="10" fill="${colour}">${signed(point.addedMs)}</text>`,
      );
    }
    const legendY = PLOT.top + 14 + index * 22;
    parts.push(
      `<line x1="${PLOT.left + PLOT.width + 20}" y1="${legendY}" x2="${PLOT.left + PLOT.width + 44}" y2="${legendY}" stroke="${colour}" stroke-width="2.5"/>`,
      `<text x="${PLOT.left + PLOT.width + 50}" y="${legendY + 4}">${escapeXml(line.path)}</text>`,
    );
  });

  options.footnotes.forEach((line, index) => {
    const at = PLOT.top + PLOT.height + 60 + index * LINE_HEIGHT;
    parts.push(`<text x="${PLOT.left}" y="${at}" font-size="11" fill="#495057">${escapeXml(line)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function formatMs(value: number): string {
  return value >= 1 ? String(value) : value.toFixed(-Math.floor(Math.log10(value)));
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
