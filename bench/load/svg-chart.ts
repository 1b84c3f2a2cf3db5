/**
 * A small log-log line chart as standalone SVG text (no chart library):
 * decade grid lines, a legend, one polyline with dots per series.
 */

export interface ChartSeries {
  name: string;
  points: [number, number][];
  /** Dashed line (e.g. a second group of series on the same chart). */
  dashed?: boolean;
  /** Palette index (default: the series' position): lets two series share a colour. */
  colorIndex?: number;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
}

const width = 720;
const height = 420;
const margin = { left: 70, right: 170, top: 40, bottom: 50 };
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function logRange(values: number[]): [number, number] {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (positive.length === 0) return [1, 10];
  let low = Math.floor(Math.log10(Math.min(...positive)));
  let high = Math.ceil(Math.log10(Math.max(...positive)));
  if (high === low) high = low + 1;
  if (high - low < 1) low = high - 1;
  return [low, high];
}

function tickLabel(exponent: number): string {
  const value = 10 ** exponent;
  return value >= 1000 ? `${(value / 1000).toLocaleString('en')}k` : String(value);
}

export function lineChartSvg(chart: LineChart): string {
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = logRange(xs);
  const [y0, y1] = logRange(ys);
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const px = (x: number): number => margin.left + ((Math.log10(x) - x0) / (x1 - x0)) * plotW;
  const py = (y: number): number => margin.top + plotH - ((Math.log10(Math.max(y, 10 ** y0)) - y0) / (y1 - y0)) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${margin.left}" y="22" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (let e = x0; e <= x1; e++) {
    out.push(`<line x1="${px(10 ** e)}" y1="${margin.top}" x2="${px(10 ** e)}" y2="${margin.top + plotH}" stroke="#ddd"/>`);
    out.push(`<text x="${px(10 ** e)}" y="${margin.top + plotH + 16}" text-anchor="middle">${tickLabel(e)}</text>`);
  }
  for (let e = y0; e <= y1; e++) {
    out.push(`<line x1="${margin.left}" y1="${py(10 ** e)}" x2="${margin.left + plotW}" y2="${py(10 ** e)}" stroke="#ddd"/>`);
    out.push(`<text x="${margin.left - 6}" y="${py(10 ** e) + 4}" text-anchor="end">${tickLabel(e)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  out.push(
    `<text x="16" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${margin.top + plotH / 2})">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const color = palette[(s.colorIndex ?? i) % palette.length];
    const points = s.points.filter(([x, y]) => x > 0 && y > 0).sort((a, b) => a[0] - b[0]);
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    if (points.length > 1) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const [x, y] of points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = margin.top + 10 + i * 18;
    out.push(`<line x1="${width - margin.right + 12}" y1="${ly}" x2="${width - margin.right + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${width - margin.right + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
