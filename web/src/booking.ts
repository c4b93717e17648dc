// The booking page: pick a service and a slot (or "as soon as possible"), book, then follow
// the callback live over its event stream, answering the ConfirmationDialog with its OK button.
import './styles.css';
import { api, explain, type AvailabilityV2, type ServiceView, type Slot } from './api';
import { byId, h, replace } from './dom';
import {
  addDays,
  browserZone,
  dateInputValue,
  dateTimeIn,
  dayBounds,
  dayIn,
  timeIn,
  zoneAbbrev,
} from './time';

type GmsState = 'SCHEDULED' | 'QUEUED' | 'ROUTING' | 'PROCESSING' | 'COMPLETED';

interface Dialog {
  _id: string;
  _action: string;
  _dialog_id: string;
  _text: string;
  _ok_title: string;
}

const STEPS: Array<{ state: GmsState; label: string }> = [
  { state: 'SCHEDULED', label: 'Booked' },
  { state: 'QUEUED', label: 'Waiting for an agent' },
  { state: 'ROUTING', label: 'Connecting' },
  { state: 'PROCESSING', label: 'Agent connected' },
  { state: 'COMPLETED', label: 'Done' },
];

const STATE_TEXT: Record<GmsState, string> = {
  SCHEDULED: 'Booked. We will call you at the chosen time.',
  QUEUED: 'Waiting for a free agent…',
  ROUTING: 'Calling you and connecting an agent…',
  PROCESSING: 'Connected: an agent is on the line with you.',
  COMPLETED: 'Finished.',
};

const REASON_TEXT: Record<string, string> = {
  AGENT_CONNECTED: 'Your call with an agent has ended. Thank you!',
  CANCELLED: 'This callback was cancelled.',
  CANCELLED_BY_ADMIN: 'This callback was cancelled by our team.',
  FAIL_CALL_TO_CUSTOMER: 'We could not reach you on that number.',
  FAIL_USER_NO_CONFIRM: 'The callback ended because it was not confirmed.',
  FAIL_TARGET_NOT_FOUND: 'No agent team could take this call.',
  FAIL_AGENT_CONNECT: 'We could not connect you to an agent.',
  FAIL_TIMEOUT_TTL: 'The callback expired before an agent was free.',
  FAIL_QUEUEING: 'The callback could not be queued.',
  FAIL_ERROR: 'The callback failed because of an error on our side.',
  NOT_AVAILABLE: 'No agent was available.',
};

const el = {
  form: byId<HTMLFormElement>('book-form'),
  service: byId<HTMLSelectElement>('service'),
  zones: byId('zones'),
  picker: byId('slot-picker'),
  day: byId<HTMLInputElement>('day'),
  prevDay: byId<HTMLButtonElement>('prev-day'),
  nextDay: byId<HTMLButtonElement>('next-day'),
  slotStatus: byId('slot-status'),
  hours: byId('hours'),
  slots: byId('slots'),
  chosen: byId('chosen'),
  phone: byId<HTMLInputElement>('phone'),
  name: byId<HTMLInputElement>('name'),
  formError: byId('form-error'),
  submit: byId<HTMLButtonElement>('submit'),
  bookCard: byId('book-card'),
  statusCard: byId('status-card'),
  statusHeading: byId('status-h'),
  cbId: byId('cb-id'),
  cbWhen: byId('cb-when'),
  stateText: byId('state-text'),
  timeline: byId('timeline'),
  streamNote: byId('stream-note'),
  statusError: byId('status-error'),
  answer: byId<HTMLButtonElement>('answer-dialog'),
  cancel: byId<HTMLButtonElement>('cancel-cb'),
  again: byId<HTMLButtonElement>('again'),
  dialog: byId<HTMLDialogElement>('confirm-dialog'),
  dialogText: byId('confirm-text'),
  dialogOk: byId<HTMLButtonElement>('confirm-ok'),
};

let services: ServiceView[] = [];
let freeSlots: Slot[] = [];
let chosenHour: number | null = null;
let chosenSlot: string | null = null;
let availabilityRequest = 0;

interface Following {
  service: string;
  id: string;
  source: EventSource;
  reached: Set<GmsState>;
  state: GmsState | null;
  dialog: Dialog | null;
}
let following: Following | null = null;

function officeZone(): string {
  return services.find((s) => s.name === el.service.value)?.officeHours.timezone ?? 'UTC';
}

function whenMode(): 'asap' | 'slot' {
  const checked = el.form.querySelector<HTMLInputElement>('input[name="when"]:checked');
  return checked?.value === 'slot' ? 'slot' : 'asap';
}

function showError(target: HTMLElement, err: unknown): void {
  const e = explain(err);
  replace(target, h('strong', {}, e.title), h('span', { class: 'small' }, e.detail));
  target.dataset.exception = e.exception;
}

function clearError(target: HTMLElement): void {
  replace(target);
  delete target.dataset.exception;
}

function zoneName(t: number, zone: string): string {
  const abbrev = zoneAbbrev(t, zone);
  return abbrev === zone ? zone : `${zone} (${abbrev})`;
}

function renderZones(): void {
  const now = Date.now();
  const office = officeZone();
  replace(
    el.zones,
    h('span', {}, `Your time zone: ${zoneName(now, browserZone)}`),
    h('span', {}, `Office time zone: ${zoneName(now, office)}`),
  );
}

async function loadServices(): Promise<void> {
  try {
    services = await api<ServiceView[]>('GET', '/dialback/1/services');
  } catch (err) {
    showError(el.formError, err);
    return;
  }
  replace(el.service, ...services.map((s) => h('option', { value: s.name }, s.name)));
  if (services.length === 0) {
    replace(el.formError, h('strong', {}, 'No callback service is configured.'));
    el.submit.disabled = true;
  }
  renderZones();
}

function updateSubmitLabel(): void {
  el.submit.textContent = whenMode() === 'asap' ? 'Call me as soon as possible' : 'Book this slot';
}

async function loadSlots(): Promise<void> {
  const service = el.service.value;
  if (!service || whenMode() !== 'slot') return;
  const ticket = ++availabilityRequest;
  const { start, end } = dayBounds(el.day.value || dateInputValue(new Date()));
  const from = new Date(Math.max(start.getTime(), Date.now()));
  chosenSlot = null;
  renderChosen();
  if (end.getTime() <= from.getTime()) {
    freeSlots = [];
    el.slotStatus.textContent = 'This day is over. Pick another day.';
    replace(el.hours);
    replace(el.slots);
    return;
  }
  el.slotStatus.textContent = 'Looking for free slots…';
  const q = new URLSearchParams({
    timezone: browserZone,
    start: from.toISOString(),
    end: end.toISOString(),
  });
  let result: AvailabilityV2;
  try {
    result = await api<AvailabilityV2>(
      'GET',
      `/genesys/2/service/callback/${encodeURIComponent(service)}/availability?${q}`,
    );
  } catch (err) {
    if (ticket !== availabilityRequest) return;
    el.slotStatus.textContent = '';
    showError(el.formError, err);
    return;
  }
  if (ticket !== availabilityRequest) return; // a newer day or service was asked for since
  freeSlots = result.slots.filter((s) => s.capacity > 0);
  const day = dayIn(start, browserZone);
  el.slotStatus.textContent =
    freeSlots.length === 0
      ? `No free slot on ${day}. Try another day.`
      : `${freeSlots.length} free slots on ${day}, shown in your time (${zoneAbbrev(start, browserZone)}) and the office's.`;
  const hours = [...new Set(freeSlots.map((s) => new Date(s.utcTime).getHours()))];
  if (chosenHour === null || !hours.includes(chosenHour)) chosenHour = hours[0] ?? null;
  renderHours(hours);
  renderSlots();
}

function renderHours(hours: number[]): void {
  replace(
    el.hours,
    ...hours.map((hr) =>
      h(
        'button',
        {
          type: 'button',
          'aria-pressed': String(hr === chosenHour),
          onclick: () => {
            chosenHour = hr;
            renderHours(hours);
            renderSlots();
          },
        },
        `${String(hr).padStart(2, '0')}:00`,
      ),
    ),
  );
}

function renderSlots(): void {
  const office = officeZone();
  const inHour = freeSlots.filter((s) => new Date(s.utcTime).getHours() === chosenHour);
  replace(
    el.slots,
    ...inHour.map((slot) =>
      h(
        'button',
        {
          type: 'button',
          'data-slot': slot.utcTime,
          'aria-pressed': String(slot.utcTime === chosenSlot),
          'aria-label': `${timeIn(slot.utcTime, browserZone)} your time, ${timeIn(slot.utcTime, office)} office time, ${slot.capacity} left`,
          onclick: () => {
            chosenSlot = slot.utcTime;
            renderSlots();
            renderChosen();
          },
        },
        h('span', {}, timeIn(slot.utcTime, browserZone)),
        h('span', { class: 'office' }, `office ${timeIn(slot.utcTime, office)}`),
        h('span', { class: 'left' }, `${slot.capacity} left`),
      ),
    ),
  );
}

function renderChosen(): void {
  if (!chosenSlot) {
    el.chosen.textContent = whenMode() === 'slot' ? 'No slot chosen yet.' : '';
    return;
  }
  const office = officeZone();
  el.chosen.textContent =
    `Chosen: ${dateTimeIn(chosenSlot, browserZone)} your time ` +
    `(${dateTimeIn(chosenSlot, office)} ${zoneAbbrev(chosenSlot, office)} at the office).`;
}

function setWhen(): void {
  const slot = whenMode() === 'slot';
  el.picker.hidden = !slot;
  updateSubmitLabel();
  renderChosen();
  if (slot) void loadSlots();
}

async function submit(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  clearError(el.formError);
  el.phone.removeAttribute('aria-invalid');
  const phone = el.phone.value.trim();
  if (phone === '') {
    el.phone.setAttribute('aria-invalid', 'true');
    replace(el.formError, h('strong', {}, 'Enter the phone number we should call.'));
    el.formError.dataset.exception = 'MissingPhone';
    el.phone.focus();
    return;
  }
  const slotMode = whenMode() === 'slot';
  if (slotMode && !chosenSlot) {
    replace(
      el.formError,
      h('strong', {}, 'Pick a time slot first, or choose “as soon as possible”.'),
    );
    el.formError.dataset.exception = 'MissingSlot';
    return;
  }
  const service = el.service.value;
  const body: Record<string, string> = {
    _customer_number: phone,
    _device_os: 'comet',
  };
  if (el.name.value.trim()) body.first_name = el.name.value.trim();
  if (slotMode && chosenSlot) body._desired_time = chosenSlot;
  el.submit.disabled = true;
  el.form.setAttribute('aria-busy', 'true');
  try {
    const { _id } = await api<{ _id: string }>(
      'POST',
      `/genesys/1/service/callback/${encodeURIComponent(service)}`,
      body,
    );
    follow(service, _id, slotMode ? chosenSlot : null);
  } catch (err) {
    showError(el.formError, err);
    const exception = explain(err).exception;
    if (exception === 'CallbackExceptionNumber') {
      el.phone.setAttribute('aria-invalid', 'true');
      el.phone.focus();
    } else if (
      exception === 'CallbackExceptionSlotFull' ||
      exception === 'CallbackExceptionPastTime' ||
      exception === 'CallbackExceptionOutsideOfficeHours'
    ) {
      void loadSlots();
    }
  } finally {
    el.submit.disabled = false;
    el.form.removeAttribute('aria-busy');
  }
}

function renderTimeline(f: Following): void {
  replace(
    el.timeline,
    ...STEPS.map((step) =>
      h(
        'li',
        {
          'data-state': step.state,
          'data-reached': String(f.reached.has(step.state)),
          'aria-current': f.state === step.state ? 'step' : undefined,
        },
        step.label,
      ),
    ),
  );
}

function setState(f: Following, state: GmsState, reason: string | null): void {
  f.state = state;
  // An immediate callback starts QUEUED: the steps before the current one are behind it.
  for (const step of STEPS.slice(0, STEPS.findIndex((x) => x.state === state) + 1))
    f.reached.add(step.state);
  el.statusCard.dataset.state = state;
  el.statusCard.dataset.history = STEPS.map((s) => s.state)
    .filter((s) => f.reached.has(s))
    .join(' ');
  if (reason) el.statusCard.dataset.reason = reason;
  const text =
    state === 'COMPLETED' && reason ? (REASON_TEXT[reason] ?? reason) : STATE_TEXT[state];
  el.stateText.textContent = text;
  renderTimeline(f);
  const waiting = state === 'SCHEDULED' || state === 'QUEUED';
  // Once the call is being placed a cancel is refused (InvalidState): do not offer it.
  el.cancel.hidden = !waiting;
  if (!waiting) closeDialog(f);
  if (state === 'COMPLETED') {
    f.source.close();
    el.streamNote.textContent = '';
  }
}

function openDialog(f: Following, d: Dialog): void {
  f.dialog = d;
  el.dialogText.textContent = d._text;
  el.dialogOk.textContent = d._ok_title || 'Ok';
  el.answer.hidden = false;
  if (!el.dialog.open) el.dialog.showModal();
  el.dialogOk.focus();
}

function closeDialog(f: Following | null): void {
  if (f) f.dialog = null;
  el.answer.hidden = true;
  if (el.dialog.open) el.dialog.close();
}

async function confirmDialog(): Promise<void> {
  const f = following;
  if (!f || !f.dialog) return;
  const d = f.dialog;
  el.dialogOk.disabled = true;
  clearError(el.statusError);
  try {
    await api('POST', `/genesys/1/service/${encodeURIComponent(f.id)}/connect`, {
      _dialog_id: d._dialog_id,
    });
    closeDialog(f);
    el.stateText.textContent = 'Thanks! We are calling you now — please answer your phone.';
  } catch (err) {
    closeDialog(f);
    showError(el.statusError, err);
  } finally {
    el.dialogOk.disabled = false;
  }
}

function follow(service: string, id: string, desired: string | null): void {
  following?.source.close();
  history.replaceState(
    null,
    '',
    `#callback=${encodeURIComponent(service)}/${encodeURIComponent(id)}`,
  );
  el.bookCard.hidden = true;
  el.statusCard.hidden = false;
  el.cancel.hidden = false;
  el.answer.hidden = true;
  clearError(el.statusError);
  el.cbId.textContent = id;
  el.cbWhen.textContent = desired
    ? ` · ${dateTimeIn(desired, browserZone)} your time`
    : ' · as soon as possible';
  el.stateText.textContent = 'Booked. Following your callback…';
  delete el.statusCard.dataset.state;
  delete el.statusCard.dataset.reason;
  el.statusCard.dataset.history = '';
  const source = new EventSource(`/genesys/1/service/${encodeURIComponent(id)}/events`);
  const f: Following = { service, id, source, reached: new Set(), state: null, dialog: null };
  following = f;
  renderTimeline(f);
  source.addEventListener('status', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as {
      _callback_state: GmsState;
      _callback_reason?: string;
    };
    setState(f, d._callback_state, d._callback_reason ?? null);
  });
  source.addEventListener('dialog', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as Dialog;
    // A replayed dialog of a callback that has moved on is history, not a question.
    if (
      d._action === 'ConfirmationDialog' &&
      (f.state === null || f.state === 'QUEUED' || f.state === 'SCHEDULED')
    )
      openDialog(f, d);
  });
  source.onopen = () => {
    el.streamNote.textContent = '';
  };
  source.onerror = () => {
    if (f.state === 'COMPLETED') return;
    el.streamNote.textContent =
      source.readyState === EventSource.CLOSED
        ? 'Live updates stopped. Reload the page to follow this callback again.'
        : 'Connection lost, reconnecting…';
  };
  el.statusHeading.focus();
  // A booking for later publishes nothing until it starts: read its state once.
  void api<Array<Record<string, unknown>>>(
    'GET',
    `/genesys/1/service/callback/${encodeURIComponent(service)}?_id=${encodeURIComponent(id)}`,
  ).then(
    (list) => {
      const v = list[0];
      if (following === f && f.state === null && v && typeof v._callback_state === 'string')
        setState(f, v._callback_state as GmsState, (v._callback_reason as string | null) ?? null);
    },
    (err: unknown) => showError(el.statusError, err),
  );
}

async function cancelCallback(): Promise<void> {
  const f = following;
  if (!f) return;
  if (!window.confirm('Cancel this callback?')) return;
  clearError(el.statusError);
  try {
    await api(
      'DELETE',
      `/genesys/1/service/callback/${encodeURIComponent(f.service)}/${encodeURIComponent(f.id)}`,
    );
  } catch (err) {
    showError(el.statusError, err);
  }
}

function bookAgain(): void {
  following?.source.close();
  following = null;
  closeDialog(null);
  history.replaceState(null, '', location.pathname);
  el.statusCard.hidden = true;
  el.bookCard.hidden = false;
  chosenSlot = null;
  renderChosen();
  if (whenMode() === 'slot') void loadSlots();
  el.phone.focus();
}

function resumeFromHash(): void {
  const m = /^#callback=([^/]+)\/(.+)$/.exec(location.hash);
  if (m) follow(decodeURIComponent(m[1]), decodeURIComponent(m[2]), null);
}

el.day.value = dateInputValue(new Date());
el.day.min = el.day.value;
el.form.addEventListener('submit', (e) => void submit(e));
for (const r of el.form.querySelectorAll<HTMLInputElement>('input[name="when"]'))
  r.addEventListener('change', setWhen);
el.service.addEventListener('change', () => {
  renderZones();
  void loadSlots();
});
el.day.addEventListener('change', () => void loadSlots());
el.prevDay.addEventListener('click', () => {
  const prev = addDays(el.day.value || dateInputValue(new Date()), -1);
  if (prev < el.day.min) return;
  el.day.value = prev;
  void loadSlots();
});
el.nextDay.addEventListener('click', () => {
  el.day.value = addDays(el.day.value || dateInputValue(new Date()), 1);
  void loadSlots();
});
el.phone.addEventListener('input', () => el.phone.removeAttribute('aria-invalid'));
el.dialogOk.addEventListener('click', () => void confirmDialog());
el.answer.addEventListener('click', () => {
  if (following?.dialog) openDialog(following, following.dialog);
});
el.cancel.addEventListener('click', () => void cancelCallback());
el.again.addEventListener('click', bookAgain);

void loadServices().then(() => {
  setWhen();
  resumeFromHash();
});
