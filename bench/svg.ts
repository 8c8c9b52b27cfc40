// Hand-written SVG line charts for benchmark results: axes with ticks, one polyline per series,
// a legend. No plotting library; the output is small, readable and diffable.
export interface Series {
  name: string;
  points: Array<[number, number]>;
  /** Dashed line, e.g. for a baseline. */
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const fmt = (v: number): string => (Math.abs(v) >= 10_000 ? `${(v / 1000).toFixed(0)}k` : Math.abs(v) >= 100 || v === Math.round(v) ? v.toFixed(0) : v.toPrecision(2));

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const m = { left: 70, right: 20, top: 40, bottom: 55 };
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0));
  const tx = (x: number): number => (o.logX ? Math.log10(x) : x);
  let xMin = Math.min(...all.map(([x]) => tx(x)));
  let xMax = Math.max(...all.map(([x]) => tx(x)));
  let yMax = Math.max(...all.map(([, y]) => y));
  if (all.length === 0) { xMin = 0; xMax = 1; yMax = 1; }
  if (xMax === xMin) { xMin -= 0.5; xMax += 0.5; }
  if (!(yMax > 0)) yMax = 1;
  const yTicks = niceTicks(0, yMax * 1.05);
  const yTop = Math.max(yMax * 1.05, yTicks[yTicks.length - 1]!);
  const px = (x: number): number => m.left + ((tx(x) - xMin) / (xMax - xMin)) * (width - m.left - m.right);
  const py = (y: number): number => height - m.bottom - (y / yTop) * (height - m.top - m.bottom);
  const xTicks = o.logX
    ? niceTicks(Math.floor(xMin), Math.ceil(xMax), Math.max(1, Math.ceil(xMax) - Math.floor(xMin))).map((e) => 10 ** e).filter((v) => tx(v) >= xMin - 1e-9 && tx(v) <= xMax + 1e-9)
    : niceTicks(xMin, xMax);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${height - m.bottom}" y2="${height - m.bottom + 5}" stroke="black"/>`);
    out.push(`<text x="${px(t).toFixed(1)}" y="${height - m.bottom + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}" stroke="black"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}" stroke="black"/>`);
  out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(o.xLabel)}${o.logX ? ' (log scale)' : ''}</text>`);
  out.push(`<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0));
    const d = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`);
    if (pts.length <= 30) for (const [x, y] of pts) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = m.top + 6 + i * 16;
    out.push(`<line x1="${width - m.right - 170}" x2="${width - m.right - 150}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${width - m.right - 145}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
