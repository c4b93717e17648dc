// The whole service as `dialback start` runs it (SQLite file, simulator, engine, HTTP on a
// real port, the system clock), driven with fetch like a browser client: availability, create,
// the SSE stream, connect, and the query until the callback completes.

import { firstSseEvent } from '../helpers/sse';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startService, type RunningService } from '../../src/cli';
import { DEMO_CONFIG, resolveConfig } from '../../src/config';
import {
  ActionReply,
  AvailabilityV1Reply,
  CallbackViewSchema,
  CreateReply,
  SearchReply,
} from '../../src/http/schemas';
import { silentLogger } from '../../src/logger';
import { parseAs } from './helpers';

type View = Record<string, unknown>;

const DIALOG_TEXT = 'You will receive the call shortly';

describe('a listening dialback driven over HTTP', function () {
  this.timeout(30_000);
  let svc: RunningService;
  let dir: string;
  const base = (): string => svc.url;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-flow-'));
    const cfg = resolveConfig(
      {
        ...DEMO_CONFIG,
        port: 0,
        host: '127.0.0.1',
        data_dir: dir,
        log_level: 'silent',
        telephony: {
          kind: 'simulator',
          simulator: {
            answer_delay_ms: 200,
            amd_delay_ms: 100,
            agent_answer_delay_ms: 100,
            handle_time_ms: 1500,
          },
        },
      },
      {},
    );
    svc = await startService(cfg, silentLogger());
  });
  after(async () => {
    await svc?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function json(res: Response): Promise<string> {
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return text;
  }

  async function create(service: string, fields: Record<string, string>): Promise<string> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const res = await fetch(`${base()}/genesys/1/service/callback/${service}`, {
      method: 'POST',
      body: form,
    });
    const id = parseAs<{ _id: string }>(CreateReply, await json(res))._id;
    assert.match(id, /^440-[0-9a-f-]{36}$/);
    return id;
  }

  async function view(service: string, id: string): Promise<View> {
    const res = await fetch(`${base()}/genesys/1/service/callback/${service}?_id=${id}`);
    const rows = parseAs<View[]>(SearchReply, await json(res));
    assert.equal(rows.length, 1);
    return rows[0];
  }

  /** Polls the query until `ok(view)`; returns the states seen on the way. */
  async function pollUntil(
    service: string,
    id: string,
    ok: (v: View) => boolean,
    what: string,
    ms = 15_000,
  ): Promise<{ last: View; seen: string[] }> {
    const until = Date.now() + ms;
    const seen: string[] = [];
    for (;;) {
      const v = await view(service, id);
      const state = String(v._callback_state);
      if (seen[seen.length - 1] !== state) seen.push(state);
      if (ok(v)) return { last: v, seen };
      if (Date.now() > until) throw new Error(`${what} not reached; states seen: ${seen}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Opens the callback's SSE stream and resolves with the first event of `kind`. */
  /** The first SSE message of `kind` on the callback's stream. */
  function firstEvent(id: string, kind: string): Promise<Record<string, unknown>> {
    return firstSseEvent(base(), id, kind, 15_000);
  }

  /** The start of the next 5-minute slot that is still offered. */
  async function nearestSlot(service: string): Promise<string> {
    const res = await fetch(
      `${base()}/genesys/1/service/callback/${service}/availability?timestamp=${new Date().toISOString()}&_=${Date.now()}`,
    );
    const slots = parseAs<Record<string, number>>(AvailabilityV1Reply, await json(res));
    const keys = Object.keys(slots).sort();
    assert.ok(keys.length > 0);
    for (const k of keys) assert.equal(slots[k], 100);
    return keys[0];
  }

  it('is live and ready', async () => {
    assert.equal((await fetch(`${base()}/healthz`)).status, 200);
    assert.equal((await fetch(`${base()}/readyz`)).status, 200);
  });

  it('runs Delayed Scheduled: create, ConfirmationDialog on SSE, connect, PROCESSING, AGENT_CONNECTED', async () => {
    await nearestSlot('user-scheduled');
    // A desired time a second ahead (inside the current slot) keeps the test fast.
    const desired = new Date(Date.now() + 1000).toISOString();
    const id = await create('user-scheduled', {
      first_name: 'John',
      _customer_number: '5115',
      _desired_time: desired,
      _device_os: 'comet',
    });
    const dialog = await firstEvent(id, 'dialog');
    const expected = {
      _id: id,
      _action: 'ConfirmationDialog',
      _dialog_id: '0',
      _text: DIALOG_TEXT,
      _ok_title: 'Ok',
    };
    assert.deepEqual(dialog, expected);
    assert.equal((await view('user-scheduled', id))._dial_attempts, 0);

    const connect = await fetch(`${base()}/genesys/1/service/${id}/connect`, {
      method: 'POST',
      headers: {
        'content-type': 'multipart/form-data; boundary=----WebKitFormBoundaryNY84ld7wm7oHB9fp',
      },
      body: '------WebKitFormBoundaryNY84ld7wm7oHB9fp--',
    });
    assert.deepEqual(parseAs(ActionReply, await json(connect)), expected);

    const { seen } = await pollUntil(
      'user-scheduled',
      id,
      (v) => v._callback_state === 'COMPLETED',
      'COMPLETED',
    );
    assert.ok(seen.includes('PROCESSING'), `PROCESSING seen on the way: ${seen}`);
    const done = await view('user-scheduled', id);
    assert.equal(done._callback_reason, 'AGENT_CONNECTED');
    assert.equal(done._desired_time, desired);
    assert.equal(done.first_name, 'John');
  });

  it('runs Not Delayed Scheduled without a dialog, straight to AGENT_CONNECTED', async () => {
    const id = await create('user-scheduled-now', {
      _customer_number: '5116',
      _desired_time: new Date(Date.now() + 1000).toISOString(),
    });
    assert.equal((await view('user-scheduled-now', id))._callback_state, 'SCHEDULED');
    const { seen } = await pollUntil(
      'user-scheduled-now',
      id,
      (v) => v._callback_state === 'COMPLETED',
      'COMPLETED',
    );
    assert.ok(seen.includes('PROCESSING'), `PROCESSING seen on the way: ${seen}`);
    const done = await view('user-scheduled-now', id);
    assert.equal(done._callback_reason, 'AGENT_CONNECTED');
    assert.equal(done._dial_attempts, 1);
    const poll = await fetch(`${base()}/genesys/1/service/${id}/events?mode=poll`);
    const { messages } = JSON.parse(await json(poll)) as { messages: Array<{ kind: string }> };
    assert.ok(messages.length > 0);
    assert.ok(
      messages.every((m) => m.kind === 'status'),
      'no dialog in Not Delayed',
    );
  });

  it('cancels a callback waiting for the confirmation: CANCELLED and never dialled', async () => {
    const id = await create('user-scheduled', { _customer_number: '5117', _device_os: 'comet' });
    await firstEvent(id, 'dialog');
    assert.equal((await view('user-scheduled', id))._callback_state, 'QUEUED');
    const res = await fetch(`${base()}/genesys/1/service/callback/user-scheduled/${id}`, {
      method: 'DELETE',
    });
    assert.equal(await json(res), '{}');
    const v = await view('user-scheduled', id);
    assert.equal(v._callback_state, 'COMPLETED');
    assert.equal(v._callback_reason, 'CANCELLED');
    // A late connect is refused and nothing is dialled.
    const late = await fetch(`${base()}/genesys/1/service/${id}/connect`, { method: 'POST' });
    assert.equal(late.status, 409, await late.text());
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await view('user-scheduled', id))._dial_attempts, 0);
  });

  it('reschedules a SCHEDULED callback and cancels it', async () => {
    const hour = 3600_000;
    const slot = (ms: number): string =>
      new Date(Math.ceil(ms / (5 * 60_000)) * 5 * 60_000).toISOString();
    const id = await create('user-scheduled', {
      _customer_number: '5118',
      _desired_time: slot(Date.now() + hour),
    });
    const next = slot(Date.now() + 2 * hour);
    const form = new FormData();
    form.append('_new_desired_time', next);
    const res = await fetch(`${base()}/genesys/1/service/callback/user-scheduled/${id}`, {
      method: 'PUT',
      body: form,
    });
    const v = parseAs<View>(CallbackViewSchema, await json(res));
    assert.equal(v._desired_time, next);
    assert.equal(v._callback_state, 'SCHEDULED');
    assert.equal((await view('user-scheduled', id))._desired_time, next);
    await json(
      await fetch(`${base()}/genesys/1/service/callback/user-scheduled/${id}`, {
        method: 'DELETE',
      }),
    );
  });
});
