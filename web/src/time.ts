// Dates for people: one instant shown in the browser's zone and in the office's.

export const browserZone: string = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${zone}|${JSON.stringify(opts)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, { timeZone: zone, ...opts });
    formatters.set(key, f);
  }
  return f;
}

export function toMs(t: string | number | Date): number {
  return typeof t === 'number' ? t : new Date(t).getTime();
}

export function timeIn(t: string | number | Date, zone: string): string {
  return formatter(zone, { hour: '2-digit', minute: '2-digit' }).format(toMs(t));
}

export function dateTimeIn(t: string | number | Date, zone: string): string {
  return formatter(zone, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }).format(toMs(t));
}

export function dayIn(t: string | number | Date, zone: string): string {
  return formatter(zone, { weekday: 'long', day: 'numeric', month: 'long' }).format(toMs(t));
}

/** Short zone name at that instant, e.g. "CET" or "GMT+1". */
export function zoneAbbrev(t: string | number | Date, zone: string): string {
  const parts = formatter(zone, { timeZoneName: 'short', hour: 'numeric' }).formatToParts(toMs(t));
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? zone;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `YYYY-MM-DD` of a local date, for `<input type=date>`. */
export function dateInputValue(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `YYYY-MM-DDTHH:MM` in the browser's zone, for `<input type=datetime-local>`. */
export function datetimeLocalValue(t: string | number | Date): string {
  const d = new Date(toMs(t));
  return `${dateInputValue(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Local midnight to the next local midnight of a `YYYY-MM-DD` day (browser zone). */
export function dayBounds(day: string): { start: Date; end: Date } {
  const [y, m, d] = day.split('-').map(Number);
  return { start: new Date(y, m - 1, d), end: new Date(y, m - 1, d + 1) };
}

export function addDays(day: string, n: number): string {
  const { start } = dayBounds(day);
  return dateInputValue(new Date(start.getFullYear(), start.getMonth(), start.getDate() + n));
}
