// Request bodies: multipart/form-data, x-www-form-urlencoded and JSON all become the same
// shape before validation, and callback routes then see a flat map of string fields.
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DialbackError } from '../errors';
import type { FieldsBodyT } from './schemas';

export const DEFAULT_BODY_LIMIT = 64 * 1024;
const MAX_FIELDS = 200;
const MAX_FIELD_NAME = 256;

/** Multipart errors of @fastify/multipart that mean "too much". */
const MULTIPART_TOO_LARGE = new Set([
  'FST_PARTS_LIMIT',
  'FST_FIELDS_LIMIT',
  'FST_REQ_FILE_TOO_LARGE',
]);

export async function registerBodyParsers(
  app: FastifyInstance,
  opts: { bodyLimit: number },
): Promise<void> {
  // fastify parses text/plain by default; GMS answers 415 to anything but the three below.
  app.removeContentTypeParser('text/plain');
  await app.register(formbody, { bodyLimit: opts.bodyLimit });
  await app.register(multipart, {
    limits: {
      files: 0,
      fields: MAX_FIELDS,
      parts: MAX_FIELDS,
      fieldNameSize: MAX_FIELD_NAME,
      fieldSize: opts.bodyLimit,
    },
  });

  // Callback form: only a multipart body needs to wait, and a promise per request is not free.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.isMultipart()) {
      readMultipartFields(req, opts.bodyLimit).then(
        (fields) => {
          req.body = fields;
          done();
        },
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
      );
      return;
    }
    // A body-less POST (the seed's `/connect` may come without one) is an empty field map.
    if (req.body === undefined && req.method !== 'GET' && req.method !== 'HEAD') req.body = {};
    done();
  });
}

/**
 * Reads a multipart body into `{ name: value | value[] }`. The multipart plugin's parser does
 * not read the body itself, so fastify's bodyLimit does not apply: it is enforced here, on the
 * declared length and on the bytes of the fields actually received.
 */
async function readMultipartFields(
  req: FastifyRequest,
  bodyLimit: number,
): Promise<Record<string, string | string[]>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > bodyLimit) {
    throw new DialbackError('CallbackExceptionPayloadTooLarge', `body exceeds ${bodyLimit} bytes`);
  }
  const fields: Record<string, string | string[]> = Object.create(null) as Record<
    string,
    string | string[]
  >;
  let bytes = 0;
  const tail = new BodyTail(boundaryOf(req.headers['content-type']));
  req.raw.on('data', tail.push);
  try {
    for await (const part of req.parts()) {
      if (part.type !== 'field') {
        throw new DialbackError('CallbackExceptionInvalidField', 'file uploads are not accepted');
      }
      if (part.fieldnameTruncated) {
        throw new DialbackError('CallbackExceptionInvalidField', 'field name too long');
      }
      const value = String(part.value);
      bytes += Buffer.byteLength(part.fieldname) + Buffer.byteLength(value);
      if (part.valueTruncated || bytes > bodyLimit) {
        throw new DialbackError(
          'CallbackExceptionPayloadTooLarge',
          `body exceeds ${bodyLimit} bytes`,
        );
      }
      const prev = fields[part.fieldname];
      if (prev === undefined) fields[part.fieldname] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else fields[part.fieldname] = [prev, value];
    }
  } catch (e) {
    if (!(tail.endsAtDelimiter() && req.raw.readableEnded && isUnexpectedEnd(e))) {
      throw multipartError(e);
    }
    // GMS's sample client ends its body with `--AaB03x`, without the closing `--` (the seed's
    // Content-Length of 915 bytes says so) and GMS accepts it. Every part before that
    // delimiter is complete; a body cut anywhere else still fails.
  } finally {
    req.raw.off('data', tail.push);
  }
  // A plain object again, so that validation and handlers see an ordinary record.
  return { ...fields };
}

function isUnexpectedEnd(e: unknown): boolean {
  return e instanceof Error && e.message === 'Unexpected end of multipart data';
}

function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The last bytes of a body, to tell "ends at a delimiter" from "cut inside a part". */
class BodyTail {
  private tail = Buffer.alloc(0);
  constructor(private readonly boundary: string | undefined) {}

  readonly push = (chunk: Buffer): void => {
    const keep = (this.boundary?.length ?? 0) + 8;
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-keep);
  };

  endsAtDelimiter(): boolean {
    if (this.boundary === undefined) return false;
    return this.tail.toString('latin1').trimEnd().endsWith(`\r\n--${this.boundary}`);
  }
}

function multipartError(e: unknown): DialbackError {
  if (e instanceof DialbackError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && MULTIPART_TOO_LARGE.has(code)) {
    return new DialbackError('CallbackExceptionPayloadTooLarge', 'multipart body too large');
  }
  if (code === 'FST_FILES_LIMIT') {
    return new DialbackError('CallbackExceptionInvalidField', 'file uploads are not accepted');
  }
  const reason = e instanceof Error ? e.message : 'unreadable';
  return new DialbackError('CallbackExceptionInvalidField', `malformed multipart body: ${reason}`);
}

/**
 * The validated body of a callback route as the engine wants it: every value a string (JSON
 * numbers and booleans stringified), null values dropped as "not given".
 */
export function toFieldMap(body: FieldsBodyT | undefined): Record<string, string> {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(body ?? {})) {
    if (v === null) continue;
    out.push([k, String(v)]);
  }
  // fromEntries defines own properties, so a `__proto__` key cannot reach the prototype.
  return Object.fromEntries(out);
}
