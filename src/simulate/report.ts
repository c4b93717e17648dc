// The what-if report: one self-contained HTML page (inline CSS and SVG, no script, no network)
// built from a SimulationResult. Pure: returns a string.

import type { SimulationResult } from './run';

const W = 720;
const H = 220;
const PAD = { l: 48, r: 12, t: 12, b: 30 };

function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function axes(yMax: number, xLabels: Array<[number, string]>, yUnit: string): string {
  const ih = H - PAD.t - PAD.b;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = PAD.t + ih * (1 - f);
    return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" class="grid"/><text x="${PAD.l - 4}" y="${y + 4}" text-anchor="end">${fmt(yMax * f, yMax * f >= 10 ? 0 : 1)}</text>`;
  });
  const xs = xLabels.map(
    ([x, label]) =>
      `<text x="${x}" y="${H - PAD.b + 16}" text-anchor="middle">${esc(label)}</text>`,
  );
  return `${ticks.join('')}${xs.join('')}<text x="4" y="${PAD.t + 8}" class="unit">${esc(yUnit)}</text>`;
}

/** Bars of a histogram or a categorical count. */
function bars(values: number[], labels: string[], yUnit: string, every = 1): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const max = Math.max(1, ...values);
  const bw = iw / Math.max(1, values.length);
  const rects = values
    .map((v, i) => {
      const h = (ih * v) / max;
      return `<rect x="${PAD.l + i * bw + 1}" y="${PAD.t + ih - h}" width="${Math.max(1, bw - 2)}" height="${h}"><title>${esc(labels[i])}: ${v}</title></rect>`;
    })
    .join('');
  const xl: Array<[number, string]> = labels
    .map((l, i) => [PAD.l + i * bw + bw / 2, l] as [number, string])
    .filter((_, i) => i % every === 0);
  return `<svg viewBox="0 0 ${W} ${H}" role="img">${axes(max, xl, yUnit)}${rects}</svg>`;
}

/** Lines over the day; x in hours from the day start. */
function lines(
  series: Array<{ name: string; cls: string; points: Array<[number, number]> }>,
  xMaxH: number,
  yMax: number,
  yUnit: string,
): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const X = (h: number): number => PAD.l + (iw * h) / xMaxH;
  const Y = (v: number): number => PAD.t + ih * (1 - v / (yMax || 1));
  const xl: Array<[number, string]> = [];
  for (let h = 0; h <= xMaxH; h += 3) xl.push([X(h), `${String(h).padStart(2, '0')}:00`]);
  const paths = series
    .map(
      (s) =>
        `<polyline class="${s.cls}" points="${s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"><title>${esc(s.name)}</title></polyline>`,
    )
    .join('');
  const legend = series
    .map(
      (s, i) =>
        `<text x="${PAD.l + 8 + i * 150}" y="${PAD.t + 12}" class="${s.cls}-t">■ ${esc(s.name)}</text>`,
    )
    .join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img">${axes(yMax, xl, yUnit)}${paths}${legend}</svg>`;
}

function histogram(
  xs: number[],
  bins: number,
  lo: number,
  hi: number,
): { counts: number[]; labels: string[] } {
  const counts = new Array<number>(bins).fill(0);
  const w = (hi - lo) / bins;
  for (const x of xs) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / w)));
    counts[i]++;
  }
  const labels = counts.map((_, i) => fmt(lo + i * w, w < 1 ? 1 : 0));
  return { counts, labels };
}

function statsRow(name: string, xs: number[], unit: string): string {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return `<tr><td>${esc(name)}</td><td>${s.length}</td><td>${fmt(mean)} ${unit}</td><td>${fmt(quantile(s, 0.5))} ${unit}</td><td>${fmt(quantile(s, 0.9))} ${unit}</td><td>${fmt(quantile(s, 0.99))} ${unit}</td><td>${fmt(s[s.length - 1] ?? NaN)} ${unit}</td></tr>`;
}

export function renderReport(r: SimulationResult): string {
  const sc = r.scenario;
  const o = r.outcomes;
  const bridged = o.filter((x) => x.bridgedAt !== null && x.customerAnsweredAt !== null);
  const answeredToBridged = bridged.map(
    (x) => ((x.bridgedAt as number) - (x.customerAnsweredAt as number)) / 1000,
  );
  const ewtErr = o
    .filter((x) => x.bridgedAt !== null && x.startedAt !== null && x.ewtAtStartMs !== null)
    .map(
      (x) =>
        ((x.bridgedAt as number) - (x.startedAt as number) - (x.ewtAtStartMs as number)) / 1000,
    );
  const punctual = o
    .filter((x) => x.scheduled && x.bridgedAt !== null && x.desiredTime !== null)
    .map((x) => ((x.bridgedAt as number) - (x.desiredTime as number)) / 1000);

  const reasons = new Map<string, number>();
  for (const x of o) reasons.set(x.reason, (reasons.get(x.reason) ?? 0) + 1);
  for (const [k, n] of Object.entries(r.rejected)) reasons.set(`rejected: ${k}`, n);
  const reasonRows = [...reasons.entries()].sort((a, b) => b[1] - a[1]);

  const a2b = [...answeredToBridged].sort((a, b) => a - b);
  const a2bHi = Math.max(1, quantile(a2b, 0.99));
  const hA = histogram(answeredToBridged, 30, 0, a2bHi);
  const e = [...ewtErr].sort((a, b) => a - b);
  const eLo = Math.min(0, quantile(e, 0.01));
  const eHi = Math.max(1, quantile(e, 0.99));
  const hE = histogram(ewtErr, 30, eLo, eHi);

  const hours = (t: number): number => (t - r.dayStart) / 3600_000;
  const occ = r.occupancy.map((s) => {
    const engaged = s.busy + s.reserved;
    return { h: hours(s.at), occ: s.signedIn > 0 ? (100 * engaged) / s.signedIn : 0, s };
  });
  const maxAgents = Math.max(1, ...r.occupancy.map((s) => s.signedIn));
  const maxWaiting = Math.max(1, ...r.occupancy.map((s) => s.waiting));

  const every = Math.max(1, Math.round(r.slots.length / 12));
  const slotLabels = r.slots.map((s) => new Date(s.start).toISOString().slice(11, 16));
  const fills = r.slots.map((s) => s.booked);
  const fullSlots = r.slots.filter((s) => s.booked >= r.slotCapacity).length;
  const bookedTotal = fills.reduce((a, b) => a + b, 0);

  const css = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:760px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #eee}svg text{font-size:10px;fill:#555}
.grid{stroke:#e4e4e4}rect{fill:#4a7bd0}polyline{fill:none;stroke-width:1.6}
.occ{stroke:#4a7bd0}.occ-t{fill:#4a7bd0}.agents{stroke:#2a9d5b}.agents-t{fill:#2a9d5b}
.waiting{stroke:#d0644a}.waiting-t{fill:#d0644a}.unit{font-style:italic}.note{color:#666;font-size:12px}`;

  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dialback simulate: ${esc(sc.date)}</title><style>${css}</style></head><body>
<h1>dialback what-if: ${esc(sc.date)}</h1>
<p>${sc.bookings_per_day} bookings (${fmt(sc.scheduled_share * 100, 0)} % with a desired time), ${r.agents} agents in ${sc.shifts.length} shift(s), handle time ${sc.handle_time_s.min}–${sc.handle_time_s.max} s, seed ${sc.seed}.
Simulated ${fmt((r.endedAt - r.dayStart) / 3600_000)} h of virtual time in ${fmt(r.wallMs / 1000)} s of wall time (${r.steps} clock steps).</p>
<table><tr><th>figure</th><th>value</th></tr>
<tr><td>bookings tried / accepted</td><td>${r.bookingsTried} / ${o.length}</td></tr>
<tr><td>connected to an agent</td><td>${o.filter((x) => x.reason === 'AGENT_CONNECTED').length}</td></tr>
<tr><td>slots full (of ${r.slots.length})</td><td>${fullSlots}</td></tr></table>

<h2>Customer's wait after answering (answered → bridged)</h2>
<table><tr><th>measure</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>
${statsRow('answered → bridged', answeredToBridged, 's')}</table>
${bars(hA.counts, hA.labels, 'callbacks per bin (s)', 3)}

<h2>EWT error (actual wait − EWT at start)</h2>
<p class="note">Actual wait: execution start → bridged. Positive: the customer waited longer than estimated.</p>
<table><tr><th>measure</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>
${statsRow('EWT error', ewtErr, 's')}
${punctual.length ? statsRow('scheduled: bridged − desired time', punctual, 's') : ''}</table>
${bars(hE.counts, hE.labels, 'callbacks per bin (s)', 3)}

<h2>Agent occupancy over the day</h2>
<p class="note">Engaged (reserved, on a call, wrap-up) share of signed-in agents, sampled every 5 minutes.</p>
${lines([{ name: 'occupancy %', cls: 'occ', points: occ.map((x) => [x.h, x.occ]) }], 24, 100, '%')}
${lines(
  [
    { name: 'agents signed in', cls: 'agents', points: occ.map((x) => [x.h, x.s.signedIn]) },
    { name: 'callbacks waiting', cls: 'waiting', points: occ.map((x) => [x.h, x.s.waiting]) },
  ],
  24,
  Math.max(maxAgents, maxWaiting),
  'count',
)}

<h2>Outcomes per reason</h2>
<table><tr><th>reason</th><th>callbacks</th><th>share</th></tr>
${reasonRows.map(([k, n]) => `<tr><td>${esc(k)}</td><td>${n}</td><td>${fmt((100 * n) / Math.max(1, r.bookingsTried))} %</td></tr>`).join('')}</table>
${bars(
  reasonRows.map(([, n]) => n),
  reasonRows.map(([k]) => k.replace(/^rejected: CallbackException/, 'rej. ')),
  'callbacks',
)}

<h2>Slot fill</h2>
<p class="note">Seats taken per ${r.slotMinutes}-minute slot (capacity ${r.slotCapacity}); ${bookedTotal} seats taken in all, ${fullSlots} slots full.</p>
${bars(fills, slotLabels, 'seats', every)}
</body></html>
`;
}
