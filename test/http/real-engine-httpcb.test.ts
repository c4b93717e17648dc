// httpcb device notifications and status notifications through the real engine: the dialog and
// every state change are POSTed to a local HTTP sink, with the service's delivery retries.
// The engine runs on virtual time; the deliveries themselves are real HTTP on loopback.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/logger';
import { createOutboundDelivery } from '../../src/notify/outbound';
import { ActionReply, CreateReply } from '../../src/http/schemas';
import { parseAs } from './helpers';
import { RealHarness, createReq } from './real-engine-harness';

interface Received {
  path: string;
  body: Record<string, unknown>;
  answered: number;
}

/** A loopback sink: `/push` fails `failFirst` times, then answers 200; `/status` always 200. */
class Sink {
  readonly received: Received[] = [];
  private readonly server: http.Server;
  private pushes = 0;

  constructor(private readonly failFirst: number) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        let status = 200;
        if (path === '/push' && this.pushes++ < this.failFirst) status = 500;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        this.received.push({ path, body, answered: status });
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits in real time (deliveries are real HTTP) for `done()`. */
async function eventually(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('httpcb and status notifications through the real engine', function () {
  let h: RealHarness;
  let sink: Sink;
  let base: string;

  beforeEach(async () => {
    sink = new Sink(2);
    base = await sink.listen();
    const logger = silentLogger();
    h = await RealHarness.start({
      logger,
      outbound: createOutboundDelivery({ logger, backoffMs: 20, timeoutMs: 500 }),
      services: {
        hooks: {
          _call_direction: 'USERTERMINATED',
          _target: 'support',
          _allow_extensions: true,
          _wait_for_agent: true,
          _wait_for_user_confirm: true,
          _max_notify_delivery_attempts: 3,
          _enable_status_notification: true,
          _status_notification_target: `${base}/status`,
        },
      },
    });
  });
  afterEach(async () => {
    await h.stop();
    await sink.close();
  });

  it('delivers the ConfirmationDialog on the third attempt after two failures, then every status', async () => {
    const created = await createReq(h, 'hooks', {
      _customer_number: '5115',
      _device_os: 'httpcb',
      _device_notification_id: `${base}/push`,
    });
    assert.equal(created.statusCode, 200, created.body);
    const id = parseAs<{ _id: string }>(CreateReply, created.body)._id;
    await h.until(() => h.dialogs(id).length > 0, 'the dialog');
    await eventually(() => sink.on('/push').length === 3, 'three push attempts');
    const dialog = {
      _id: id,
      _action: 'ConfirmationDialog',
      _dialog_id: '0',
      _text: 'You will receive the call shortly',
      _ok_title: 'Ok',
    };
    assert.deepEqual(
      sink.on('/push').map((r) => r.answered),
      [500, 500, 200],
    );
    for (const r of sink.on('/push')) assert.deepEqual(r.body, dialog);
    // No fourth attempt after the delivery succeeded.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.on('/push').length, 3);

    const connect = await h.inject({ method: 'POST', url: `/genesys/1/service/${id}/connect` });
    assert.equal(connect.statusCode, 200, connect.body);
    assert.deepEqual(parseAs(ActionReply, connect.body), dialog);
    await h.until(() => h.state(id) === 'COMPLETED', 'COMPLETED');
    await eventually(
      () => sink.on('/status').some((r) => r.body._callback_state === 'COMPLETED'),
      'the COMPLETED status',
    );
    const statuses = sink.on('/status').map((r) => r.body);
    for (const s of statuses) assert.equal(s._id, id);
    assert.deepEqual(
      new Set(statuses.map((s) => s._callback_state)),
      new Set(['QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED']),
    );
    const final = statuses.find((s) => s._callback_state === 'COMPLETED');
    assert.equal(final?._callback_reason, 'AGENT_CONNECTED');
  });

  it('sends no status notification for a service that did not enable them', async () => {
    const id = parseAs<{ _id: string }>(
      CreateReply,
      (await createReq(h, 'user-scheduled-now', { _customer_number: '5115' })).body,
    )._id;
    await h.until(() => h.state(id) === 'COMPLETED', 'COMPLETED');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(sink.received, []);
  });
});
