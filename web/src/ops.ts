// The operations dashboard: callbacks by state and service with cancel, bulk cancel and
// reschedule; agents with ready / not-ready; slot fill, EWT and outcome charts. The services'
// event streams trigger refreshes; /metrics is sampled for the counts and the EWT series.
import './styles.css';
import {
  api,
  explain,
  getApiKey,
  setApiKey,
  type AgentView,
  type AvailabilityV2,
  type CallbackView,
  type ServiceView,
} from './api';
import { hbarChart, lineChart, slotFillChart, type Series } from './charts';
import { byId, h, replace } from './dom';
import { browserZone, dateInputValue, dateTimeIn, dayBounds, timeIn, zoneAbbrev } from './time';

const STATES = ['SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED'] as const;
const EWT_POINTS = 120;
const SAMPLE_MS = 5000;

const el = {
  live: byId('live-text'),
  liveDot: byId('live-dot'),
  keyForm: byId<HTMLFormElement>('key-form'),
  key: byId<HTMLInputElement>('api-key'),
  keyClear: byId<HTMLButtonElement>('key-clear'),
  keyState: byId('key-state'),
  message: byId('ops-message'),
  error: byId('ops-error'),
  counts: byId<HTMLTableElement>('counts'),
  filterForm: byId<HTMLFormElement>('filter-form'),
  fService: byId<HTMLSelectElement>('f-service'),
  fState: byId<HTMLSelectElement>('f-state'),
  fSearch: byId<HTMLInputElement>('f-search'),
  fClear: byId<HTMLButtonElement>('f-clear'),
  bulkReason: byId<HTMLInputElement>('bulk-reason'),
  bulkCancel: byId<HTMLButtonElement>('bulk-cancel'),
  cbSummary: byId('cb-summary'),
  selectAll: byId<HTMLInputElement>('select-all'),
  callbacks: byId<HTMLTableElement>('callbacks'),
  agents: byId<HTMLTableElement>('agents'),
  capService: byId<HTMLSelectElement>('cap-service'),
  capDay: byId<HTMLInputElement>('cap-day'),
  capChart: byId('cap-chart'),
  capSummary: byId('cap-summary'),
  ewtChart: byId('ewt-chart'),
  outChart: byId('out-chart'),
  outSummary: byId('out-summary'),
  resched: byId<HTMLDialogElement>('resched'),
  reschedForm: byId<HTMLFormElement>('resched-form'),
  reschedId: byId('resched-id'),
  reschedZone: byId('resched-zone'),
  reschedTime: byId<HTMLInputElement>('resched-time'),
  reschedError: byId('resched-error'),
  reschedCancel: byId<HTMLButtonElement>('resched-cancel'),
};

let services: ServiceView[] = [];
let rows: CallbackView[] = [];
const selected = new Set<string>();
const ewt = new Map<string, Series>();
const streams = new Map<string, EventSource>();
let rescheduling: { service: string; id: string } | null = null;

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

function say(text: string): void {
  replace(el.message, text);
}

function fail(err: unknown, what: string): void {
  const e = explain(err);
  const hint = e.exception === 'CallbackExceptionUnauthorized' ? ' Enter the API key above.' : '';
  replace(
    el.error,
    h('strong', {}, `${what}: ${e.title}${hint}`),
    h('span', { class: 'small' }, e.detail),
  );
  el.error.dataset.exception = e.exception;
}

function clearMessages(): void {
  replace(el.message);
  replace(el.error);
  delete el.error.dataset.exception;
}

// ---------------------------------------------------------------- API key

function renderKeyState(): void {
  el.keyState.textContent = getApiKey() ? 'A key is set for this tab.' : 'No key set.';
}

el.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  setApiKey(el.key.value.trim());
  el.key.value = '';
  renderKeyState();
});
el.keyClear.addEventListener('click', () => {
  setApiKey('');
  el.key.value = '';
  renderKeyState();
});

// ---------------------------------------------------------------- metrics

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, the few lines the dashboard reads. */
function parseMetrics(text: string, wanted: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || !wanted.has(m[1])) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const secondsFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function timeWithSeconds(t: number): string {
  return secondsFormat.format(t);
}

async function sampleMetrics(): Promise<void> {
  let text: string;
  try {
    const res = await fetch('/metrics', { headers: { accept: 'text/plain' } });
    if (!res.ok) return;
    text = await res.text();
  } catch {
    return; // the live indicator already says when the service is unreachable
  }
  const samples = parseMetrics(text, new Set(['dialback_ewt_seconds', 'dialback_callbacks']));
  const now = Date.now();
  for (const s of samples.filter((x) => x.name === 'dialback_ewt_seconds')) {
    const target = s.labels.target ?? '?';
    const series = ewt.get(target) ?? { name: target, points: [] };
    series.points.push({ t: now, v: s.value });
    if (series.points.length > EWT_POINTS) series.points.shift();
    ewt.set(target, series);
  }
  replace(
    el.ewtChart,
    lineChart(
      [...ewt.values()],
      (t) => timeWithSeconds(t),
      (v) =>
        v >= 120
          ? `${Math.round(v / 60)} min`
          : `${Number.isInteger(v) || v >= 10 ? Math.round(v) : v.toFixed(1)} s`,
      'Estimated wait time per agent group over time',
    ),
  );
  renderCounts(samples.filter((x) => x.name === 'dialback_callbacks'));
}

function renderCounts(samples: Sample[]): void {
  const names = services.map((s) => s.name);
  const count = (svc: string, state: string) =>
    samples.find((x) => x.labels.service === svc && x.labels.state === state)?.value ?? 0;
  replace(
    el.counts,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Service'),
        ...STATES.map((st) => h('th', { scope: 'col', class: 'num' }, st)),
      ),
    ),
    h(
      'tbody',
      {},
      ...names.map((svc) =>
        h(
          'tr',
          { 'data-service': svc },
          h('th', { scope: 'row' }, svc),
          ...STATES.map((st) => h('td', { class: 'num', 'data-state': st }, count(svc, st))),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- callbacks

function callbacksPath(): string {
  const service = el.fService.value;
  const search = el.fSearch.value.trim();
  const q = new URLSearchParams();
  if (search) {
    q.set('_id', search);
    q.set('_customer_number', search);
    q.set('operand', 'OR');
    return `/genesys/1/service/callback?${q}`;
  }
  const state = el.fState.value;
  q.set('_callback_state', state === 'open' ? '!COMPLETED' : state);
  return service
    ? `/genesys/1/service/callback/${encodeURIComponent(service)}?${q}`
    : `/genesys/1/service/callback?${q}`;
}

async function refreshCallbacks(): Promise<void> {
  let list: CallbackView[];
  try {
    list = await api<CallbackView[]>('GET', callbacksPath());
  } catch (err) {
    fail(err, 'Loading callbacks failed');
    return;
  }
  const service = el.fService.value;
  if (service) list = list.filter((r) => r._service_name === service);
  const when = (r: CallbackView) => Date.parse(str(r._desired_time || r._creation_time)) || 0;
  rows = list.sort((a, b) => when(a) - when(b));
  for (const id of [...selected]) if (!rows.some((r) => r._id === id)) selected.delete(id);
  renderCallbacks();
}

function renderCallbacks(): void {
  const tbody = el.callbacks.tBodies[0];
  replace(
    tbody,
    ...rows.map((r) => {
      const id = str(r._id);
      const service = str(r._service_name);
      const state = str(r._callback_state);
      const open = state !== 'COMPLETED';
      const reason = str(r._callback_reason);
      return h(
        'tr',
        { 'data-id': id, 'data-state': state, 'data-reason': reason },
        h(
          'td',
          {},
          h('input', {
            type: 'checkbox',
            'aria-label': `Select ${id}`,
            checked: selected.has(id),
            disabled: !open,
            onchange: (e: Event) => {
              if ((e.target as HTMLInputElement).checked) selected.add(id);
              else selected.delete(id);
              renderBulk();
            },
          }),
        ),
        h('td', {}, h('code', { title: id }, id)),
        h('td', {}, service),
        h('td', {}, str(r._customer_number)),
        h('td', {}, [str(r.first_name), str(r.last_name)].filter(Boolean).join(' ')),
        h(
          'td',
          {},
          h('span', { class: `badge ${state}` }, state),
          reason ? h('span', { class: 'small muted' }, ` ${reason}`) : null,
        ),
        h(
          'td',
          {},
          r._desired_time ? dateTimeIn(str(r._desired_time), browserZone) : 'as soon as possible',
        ),
        h('td', {}, r._creation_time ? dateTimeIn(str(r._creation_time), browserZone) : ''),
        h(
          'td',
          {},
          open
            ? h(
                'div',
                { class: 'actions' },
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'small',
                    'aria-label': `Reschedule ${id}`,
                    onclick: () => openReschedule(service, id, str(r._desired_time)),
                  },
                  'Reschedule',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'small danger',
                    'aria-label': `Cancel ${id}`,
                    onclick: () => void cancelOne(service, id),
                  },
                  'Cancel',
                ),
              )
            : null,
        ),
      );
    }),
  );
  labelCells(el.callbacks);
  el.cbSummary.textContent = `${rows.length} callback${rows.length === 1 ? '' : 's'} shown, updated ${timeIn(Date.now(), browserZone)}.`;
  renderBulk();
}

/** Copies each column's header onto its cells, for the stacked layout on narrow screens. */
function labelCells(table: HTMLTableElement): void {
  const heads = [...(table.tHead?.rows[0]?.cells ?? [])].map((c) => c.textContent?.trim() ?? '');
  for (const row of table.tBodies[0].rows)
    [...row.cells].forEach((cell, i) => {
      if (heads[i]) cell.dataset.label = heads[i];
    });
}

function renderBulk(): void {
  el.bulkCancel.textContent = `Cancel selected (${selected.size})`;
  el.bulkCancel.disabled = selected.size === 0;
  const open = rows.filter((r) => r._callback_state !== 'COMPLETED');
  el.selectAll.checked = open.length > 0 && open.every((r) => selected.has(str(r._id)));
}

async function cancelOne(service: string, id: string): Promise<void> {
  if (!window.confirm(`Cancel callback ${id}?`)) return;
  clearMessages();
  try {
    await api(
      'DELETE',
      `/genesys/1/service/callback/${encodeURIComponent(service)}/${encodeURIComponent(id)}`,
    );
    say(`Cancelled ${id}.`);
  } catch (err) {
    fail(err, `Cancelling ${id} failed`);
  }
  await refreshAll();
}

async function bulkCancel(): Promise<void> {
  const ids = [...selected];
  if (ids.length === 0) return;
  if (!window.confirm(`Cancel ${ids.length} callback${ids.length === 1 ? '' : 's'}?`)) return;
  clearMessages();
  try {
    const r = await api<{ cancelled: string[]; notFound: string[]; alreadyCompleted: string[] }>(
      'POST',
      '/genesys/1/admin/callback/cancel',
      { reason: el.bulkReason.value.trim() || 'cancelled from the dashboard', ids },
    );
    say(
      `Cancelled ${r.cancelled.length}` +
        (r.alreadyCompleted.length ? `, ${r.alreadyCompleted.length} already completed` : '') +
        (r.notFound.length ? `, ${r.notFound.length} not found` : '') +
        '.',
    );
    selected.clear();
  } catch (err) {
    fail(err, 'Bulk cancel failed');
  }
  await refreshAll();
}

function openReschedule(service: string, id: string, desired: string): void {
  rescheduling = { service, id };
  el.reschedId.textContent = id;
  el.reschedZone.textContent = `(your time, ${zoneAbbrev(Date.now(), browserZone)})`;
  const base = desired ? Date.parse(desired) : Date.now() + 3_600_000;
  const d = new Date(Math.max(base, Date.now() + 600_000));
  d.setSeconds(0, 0);
  el.reschedTime.value = `${dateInputValue(d)}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  replace(el.reschedError);
  el.resched.showModal();
  el.reschedTime.focus();
}

async function saveReschedule(e: SubmitEvent): Promise<void> {
  e.preventDefault();
  const r = rescheduling;
  if (!r) return;
  const when = new Date(el.reschedTime.value);
  if (Number.isNaN(when.getTime())) {
    replace(el.reschedError, h('strong', {}, 'Enter a date and time.'));
    return;
  }
  replace(el.reschedError);
  try {
    await api(
      'PUT',
      `/genesys/1/service/callback/${encodeURIComponent(r.service)}/${encodeURIComponent(r.id)}`,
      { _new_desired_time: when.toISOString() },
    );
    el.resched.close();
    clearMessages();
    say(`Rescheduled ${r.id} to ${dateTimeIn(when, browserZone)}.`);
    await refreshAll();
  } catch (err) {
    const ex = explain(err);
    const alternatives =
      err && typeof err === 'object' && 'body' in err
        ? ((err as { body: Record<string, unknown> }).body.availability as
            Record<string, number> | undefined)
        : undefined;
    replace(
      el.reschedError,
      h('strong', {}, ex.title),
      h('span', { class: 'small' }, ex.detail),
      alternatives && Object.keys(alternatives).length > 0
        ? h(
            'span',
            { class: 'small' },
            `Free nearby: ${Object.keys(alternatives)
              .slice(0, 5)
              .map((t) => timeIn(t, browserZone))
              .join(', ')}`,
          )
        : null,
    );
  }
}

// ---------------------------------------------------------------- agents

async function refreshAgents(): Promise<void> {
  let agents: AgentView[];
  try {
    agents = await api<AgentView[]>('GET', '/dialback/1/agents');
  } catch (err) {
    fail(err, 'Loading agents failed');
    return;
  }
  replace(
    el.agents.tBodies[0],
    ...agents.map((a) =>
      h(
        'tr',
        { 'data-agent': a.id },
        h('th', { scope: 'row' }, a.id),
        h('td', {}, a.groups.join(', ')),
        h(
          'td',
          {},
          h('span', { class: `badge ${a.state}` }, a.state),
          a.callbackId ? h('div', { class: 'small muted' }, h('code', {}, a.callbackId)) : null,
        ),
        h('td', {}, timeIn(a.since, browserZone)),
        h(
          'td',
          {},
          h(
            'div',
            { class: 'actions' },
            agentButton(
              a,
              'ready',
              'Ready',
              a.state === 'ready' || a.state === 'busy' || a.state === 'reserved',
            ),
            agentButton(
              a,
              'not-ready',
              'Not ready',
              a.state === 'not-ready' || a.state === 'signed-out',
            ),
          ),
        ),
      ),
    ),
  );
  labelCells(el.agents);
}

function agentButton(
  a: AgentView,
  command: 'ready' | 'not-ready',
  label: string,
  disabled: boolean,
): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'small',
      disabled,
      'aria-label': `${label}: ${a.id}`,
      onclick: async () => {
        clearMessages();
        try {
          const v = await api<AgentView>(
            'POST',
            `/dialback/1/agents/${encodeURIComponent(a.id)}/${command}`,
          );
          say(`${v.id} is now ${v.state}.`);
        } catch (err) {
          fail(err, `Setting ${a.id} ${command} failed`);
        }
        await refreshAgents();
      },
    },
    label,
  );
}

// ---------------------------------------------------------------- capacity and outcomes

async function refreshCapacity(): Promise<void> {
  const service = el.capService.value;
  if (!service) return;
  const { start, end } = dayBounds(el.capDay.value || dateInputValue(new Date()));
  const q = new URLSearchParams({
    timezone: browserZone,
    start: start.toISOString(),
    end: end.toISOString(),
    'report-busy': 'true',
  });
  let result: AvailabilityV2;
  try {
    result = await api<AvailabilityV2>(
      'GET',
      `/genesys/2/service/callback/${encodeURIComponent(service)}/availability?${q}`,
    );
  } catch (err) {
    fail(err, 'Loading capacity failed');
    return;
  }
  const bars = result.slots.map((s) => ({
    start: Date.parse(s.utcTime),
    booked: s.total - s.capacity,
    total: s.total,
  }));
  // Label every third hour on the hour, in the browser's zone.
  const hourLabel = (t: number): string | null => {
    const d = new Date(t);
    return d.getMinutes() === 0 && d.getHours() % 3 === 0 ? timeIn(t, browserZone) : null;
  };
  replace(
    el.capChart,
    slotFillChart(bars, hourLabel, `Capacity and bookings per ${result.durationMin}-minute slot`),
  );
  const booked = bars.reduce((n, b) => n + b.booked, 0);
  const total = bars.reduce((n, b) => n + b.total, 0);
  const busiest = bars.reduce<(typeof bars)[number] | null>(
    (best, b) =>
      b.booked > 0 && (!best || b.booked / b.total > best.booked / best.total) ? b : best,
    null,
  );
  el.capSummary.textContent =
    `${bars.length} slots of ${result.durationMin} min, ${booked} of ${total} seats booked ` +
    `(${total ? ((booked / total) * 100).toFixed(1) : '0'} %)` +
    (busiest
      ? `; busiest ${timeIn(busiest.start, browserZone)} with ${busiest.booked} of ${busiest.total}`
      : '') +
    `. Times in your zone (${browserZone}).`;
}

async function refreshOutcomes(): Promise<void> {
  let done: CallbackView[];
  try {
    done = await api<CallbackView[]>(
      'GET',
      '/genesys/1/service/callback?_callback_state=COMPLETED',
    );
  } catch (err) {
    fail(err, 'Loading outcomes failed');
    return;
  }
  const { start, end } = dayBounds(dateInputValue(new Date()));
  const byReason = new Map<string, number>();
  for (const r of done) {
    const t = Date.parse(str(r._creation_time));
    if (!(t >= start.getTime() && t < end.getTime())) continue;
    const reason = str(r._callback_reason) || 'UNKNOWN';
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  const items = [...byReason].map(([label, value]) => ({ label, value }));
  replace(el.outChart, hbarChart(items, 'Completed callbacks created today, by reason'));
  el.outSummary.textContent = `${items.reduce((n, i) => n + i.value, 0)} callbacks created today have completed.`;
}

// ---------------------------------------------------------------- live updates

let refreshTimer: number | undefined;

function scheduleRefresh(): void {
  // A burst of events (a replay, a bulk cancel) becomes one refresh.
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => void refreshAll(), 300);
}

async function refreshAll(): Promise<void> {
  await Promise.all([
    refreshCallbacks(),
    refreshAgents(),
    refreshCapacity(),
    refreshOutcomes(),
    sampleMetrics(),
  ]);
}

function renderLive(): void {
  const all = [...streams.values()];
  const open = all.filter((s) => s.readyState === EventSource.OPEN).length;
  const on = all.length > 0 && open === all.length;
  el.liveDot.classList.toggle('on', on);
  el.live.textContent = on
    ? 'live'
    : all.length === 0
      ? 'no services'
      : `reconnecting (${open}/${all.length})`;
}

function openStreams(): void {
  for (const s of services) {
    const source = new EventSource(
      `/genesys/1/service/callback/${encodeURIComponent(s.name)}/events`,
    );
    for (const kind of ['status', 'dialog', 'preview'])
      source.addEventListener(kind, scheduleRefresh);
    source.onopen = renderLive;
    source.onerror = renderLive;
    streams.set(s.name, source);
  }
  renderLive();
}

// ---------------------------------------------------------------- wiring

el.filterForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void refreshCallbacks();
});
el.fService.addEventListener('change', () => void refreshCallbacks());
el.fState.addEventListener('change', () => void refreshCallbacks());
el.fClear.addEventListener('click', () => {
  el.fSearch.value = '';
  el.fState.value = 'open';
  el.fService.value = '';
  void refreshCallbacks();
});
el.selectAll.addEventListener('change', () => {
  for (const r of rows)
    if (r._callback_state !== 'COMPLETED') {
      if (el.selectAll.checked) selected.add(str(r._id));
      else selected.delete(str(r._id));
    }
  renderCallbacks();
});
el.bulkCancel.addEventListener('click', () => void bulkCancel());
el.capService.addEventListener('change', () => void refreshCapacity());
el.capDay.addEventListener('change', () => void refreshCapacity());
el.reschedForm.addEventListener('submit', (e) => void saveReschedule(e));
el.reschedCancel.addEventListener('click', () => el.resched.close());

async function start(): Promise<void> {
  renderKeyState();
  el.capDay.value = dateInputValue(new Date());
  try {
    services = await api<ServiceView[]>('GET', '/dialback/1/services');
  } catch (err) {
    fail(err, 'Loading services failed');
  }
  for (const s of services) {
    el.fService.appendChild(h('option', { value: s.name }, s.name));
    el.capService.appendChild(h('option', { value: s.name }, s.name));
  }
  openStreams();
  await refreshAll();
  // Agents have no event stream and a booking for later publishes nothing until it starts,
  // so the lists are also polled.
  window.setInterval(() => {
    void sampleMetrics();
    void refreshAgents();
    void refreshCallbacks();
    void refreshCapacity();
  }, SAMPLE_MS);
  document.body.dataset.ready = 'true';
}

void start();
