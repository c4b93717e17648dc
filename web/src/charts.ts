// Three small inline-SVG charts for the dashboard: slot fill, a time series and horizontal bars.
// Drawn in a fixed viewBox and scaled by CSS, so they stay readable from phone to desktop.

const NS = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2'];

type Attrs = Record<string, string | number>;

function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function svgRoot(width: number, height: number, label: string): SVGSVGElement {
  const root = s('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': label,
    class: 'chart',
    preserveAspectRatio: 'xMidYMid meet',
  });
  root.appendChild(s('title', {}, label));
  return root;
}

/** 1, 2, 5 × 10^n: a round step giving about `count` grid lines up to `max`. */
export function niceStep(max: number, count = 4): number {
  if (max <= 0) return 1;
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

interface Frame {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}

function yAxis(root: SVGSVGElement, f: Frame, max: number, fmt: (v: number) => string): number {
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  for (let v = 0; v <= top + 1e-9; v += step) {
    const y = f.height - f.bottom - (v / top) * (f.height - f.top - f.bottom);
    root.appendChild(s('line', { x1: f.left, x2: f.width - f.right, y1: y, y2: y, class: 'grid' }));
    root.appendChild(
      s('text', { x: f.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, fmt(v)),
    );
  }
  return top;
}

export interface SlotBar {
  start: number;
  booked: number;
  total: number;
}

/** Per-slot capacity (light) and bookings (dark) across a day; hour labels from `hourLabel`. */
export function slotFillChart(
  bars: SlotBar[],
  hourLabel: (t: number) => string | null,
  label: string,
): SVGSVGElement {
  const f: Frame = { left: 40, right: 10, top: 10, bottom: 28, width: 720, height: 220 };
  const root = svgRoot(f.width, f.height, label);
  const max = Math.max(1, ...bars.map((b) => b.total));
  const top = yAxis(root, f, max, (v) => String(Math.round(v)));
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const w = bars.length > 0 ? plotW / bars.length : plotW;
  const gap = w > 4 ? 1 : 0;
  bars.forEach((b, i) => {
    const x = f.left + i * w;
    const hTotal = (b.total / top) * plotH;
    const hBooked = (b.booked / top) * plotH;
    const g = s('g');
    g.appendChild(s('title', {}, `${hourLabel(b.start) ?? ''} ${b.booked} of ${b.total} booked`));
    g.appendChild(
      s('rect', {
        x,
        y: f.height - f.bottom - hTotal,
        width: Math.max(0.5, w - gap),
        height: hTotal,
        class: 'bar-total',
      }),
    );
    if (b.booked > 0) {
      g.appendChild(
        s('rect', {
          x,
          y: f.height - f.bottom - hBooked,
          width: Math.max(0.5, w - gap),
          height: Math.max(3, hBooked),
          class: 'bar-booked',
        }),
      );
    }
    root.appendChild(g);
    const tick = hourLabel(b.start);
    if (tick !== null) {
      root.appendChild(
        s('text', { x: x, y: f.height - 8, 'text-anchor': 'middle', class: 'tick' }, tick),
      );
    }
  });
  if (bars.length === 0) {
    root.appendChild(
      s(
        'text',
        { x: f.width / 2, y: f.height / 2, 'text-anchor': 'middle', class: 'empty' },
        'no slots open on this day',
      ),
    );
  }
  return root;
}

export interface Series {
  name: string;
  points: Array<{ t: number; v: number }>;
}

/** Lines over time, one colour per series, with a legend under the plot. */
export function lineChart(
  series: Series[],
  timeLabel: (t: number) => string,
  valueLabel: (v: number) => string,
  label: string,
): SVGSVGElement {
  const legendH = 20 * Math.max(1, Math.ceil(series.length / 3));
  const f: Frame = { left: 48, right: 14, top: 10, bottom: 28 + legendH, width: 720, height: 220 };
  const root = svgRoot(f.width, f.height, label);
  const all = series.flatMap((x) => x.points);
  const max = Math.max(1, ...all.map((p) => p.v));
  const top = yAxis(root, f, max, valueLabel);
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t));
  const span = Math.max(1, t1 - t0);
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const xOf = (t: number) => f.left + ((t - t0) / span) * plotW;
  const yOf = (v: number) => f.height - f.bottom - (v / top) * plotH;
  if (all.length === 0) {
    root.appendChild(
      s(
        'text',
        { x: f.width / 2, y: (f.height - legendH) / 2, 'text-anchor': 'middle', class: 'empty' },
        'waiting for the first samples',
      ),
    );
    return root;
  }
  for (const [t, anchor] of [
    [t0, 'start'],
    [t0 + span / 2, 'middle'],
    [t1, 'end'],
  ] as const) {
    root.appendChild(
      s(
        'text',
        { x: xOf(t), y: f.height - legendH - 8, 'text-anchor': anchor, class: 'tick' },
        timeLabel(t),
      ),
    );
  }
  series.forEach((ser, i) => {
    const color = PALETTE[i % PALETTE.length];
    const d = ser.points
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${xOf(p.t).toFixed(1)},${yOf(p.v).toFixed(1)}`)
      .join(' ');
    root.appendChild(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2.5 }));
    const last = ser.points[ser.points.length - 1];
    if (last)
      root.appendChild(s('circle', { cx: xOf(last.t), cy: yOf(last.v), r: 3.5, fill: color }));
    const lx = f.left + (i % 3) * 220;
    const ly = f.height - legendH + 14 + Math.floor(i / 3) * 20;
    root.appendChild(s('rect', { x: lx, y: ly - 9, width: 12, height: 12, fill: color, rx: 2 }));
    root.appendChild(
      s(
        'text',
        { x: lx + 18, y: ly + 1, class: 'legend' },
        `${ser.name}: ${last ? valueLabel(last.v) : '–'}`,
      ),
    );
  });
  return root;
}

/** Labelled horizontal bars with their values, largest first. */
export function hbarChart(
  items: Array<{ label: string; value: number }>,
  label: string,
): SVGSVGElement {
  const sorted = [...items].sort((a, b) => b.value - a.value);
  const row = 26;
  const f = { left: 190, right: 50, top: 6, width: 720 };
  const height = Math.max(60, f.top * 2 + sorted.length * row);
  const root = svgRoot(f.width, height, label);
  const max = Math.max(1, ...sorted.map((i) => i.value));
  const plotW = f.width - f.left - f.right;
  sorted.forEach((it, i) => {
    const y = f.top + i * row;
    const w = (it.value / max) * plotW;
    root.appendChild(
      s('text', { x: f.left - 8, y: y + 17, 'text-anchor': 'end', class: 'legend' }, it.label),
    );
    root.appendChild(
      s('rect', {
        x: f.left,
        y: y + 4,
        width: Math.max(1, w),
        height: row - 8,
        rx: 3,
        fill: PALETTE[i % PALETTE.length],
      }),
    );
    root.appendChild(
      s('text', { x: f.left + w + 6, y: y + 17, class: 'legend' }, String(it.value)),
    );
  });
  if (sorted.length === 0) {
    root.appendChild(
      s(
        'text',
        { x: f.width / 2, y: height / 2 + 4, 'text-anchor': 'middle', class: 'empty' },
        'no completed callbacks yet',
      ),
    );
  }
  return root;
}
