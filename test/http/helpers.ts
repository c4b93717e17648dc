// Shared setup of the HTTP tests: an app over the fake engine, and response checks against
// the same TypeBox schemas the routes declare.
import assert from 'node:assert/strict';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { buildApp } from '../../src/http/app';
import { ErrorBody } from '../../src/http/schemas';
import { silentLogger } from '../../src/logger';
import { FakeEngine } from '../helpers/fake-engine';

export const SERVICE = 'user-scheduled';

export async function setup(
  opts: {
    apiKeys?: string[];
    metrics?: Registry;
    bodyLimit?: number;
    sseHeartbeatMs?: number;
  } = {},
): Promise<{ app: FastifyInstance; engine: FakeEngine }> {
  const engine = new FakeEngine([SERVICE, 'other']);
  const app = await buildApp({ engine, logger: silentLogger(), ...opts });
  return { app, engine };
}

/** Parses `body` and asserts it matches `schema`, naming the first mismatch. */
export function parseAs<T = unknown>(schema: TSchema, body: string): T {
  const value: unknown = JSON.parse(body);
  const check = TypeCompiler.Compile(schema);
  if (!check.Check(value)) {
    const e = check.Errors(value).First();
    assert.fail(`reply does not match its schema at ${e?.path}: ${e?.message} in ${body}`);
  }
  return value as T;
}

/** Asserts an error reply: status, `{exception, message}` shape and name. */
export function assertError(
  res: { statusCode: number; body: string },
  status: number,
  exception: string,
): Record<string, unknown> {
  assert.equal(res.statusCode, status, res.body);
  const body = parseAs<Record<string, unknown>>(ErrorBody, res.body);
  assert.equal(body.exception, exception);
  assert.equal(typeof body.message, 'string');
  return body;
}

/** A multipart body with CRLF line ends, as browsers send it. */
export function multipart(boundary: string, fields: [string, string][], closing = true): Buffer {
  const parts = fields
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  return Buffer.from(`${parts}--${boundary}${closing ? '--\r\n' : ''}`, 'utf8');
}
