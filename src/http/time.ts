// Instants on the wire: ISO 8601 with an explicit offset (or Z) only. A local time without an
// offset is ambiguous across the office's and the viewer's zones, so it is refused.
import { DateTime, IANAZone } from 'luxon';
import { parseIsoInstant } from '../domain/zone-time';
import { DialbackError } from '../errors';

const ISO_WITH_OFFSET =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

/** Epoch ms of an ISO 8601 instant; throws CallbackExceptionInvalidField naming `field`. */
export function parseInstant(value: string, field: string): number {
  if (!ISO_WITH_OFFSET.test(value)) {
    throw new DialbackError(
      'CallbackExceptionInvalidField',
      `${field} must be an ISO 8601 time with an offset or Z, e.g. 2014-07-30T14:00:00.000Z`,
    );
  }
  const t = parseIsoInstant(value);
  if (t === undefined) {
    throw new DialbackError('CallbackExceptionInvalidField', `${field} is not a valid time`);
  }
  return t;
}

export function parseOptionalInstant(value: string | undefined, field: string): number | undefined {
  return value === undefined ? undefined : parseInstant(value, field);
}

/** Throws CallbackExceptionInvalidField unless `zone` is a known IANA zone. */
export function assertZone(zone: string, field: string): void {
  if (!IANAZone.isValidZone(zone)) {
    throw new DialbackError('CallbackExceptionInvalidField', `${field} is not an IANA time zone`);
  }
}

/** Wall-clock time of `ms` in `zone`, ISO without offset (`2014-07-30T08:00:00.000`). */
export function localIso(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toISO({ includeOffset: false }) ?? '';
}

export function utcIso(ms: number): string {
  return new Date(ms).toISOString();
}
