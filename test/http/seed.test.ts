// The seed's sample request/response sequence (User Terminated Delayed Scheduled), replayed
// byte for byte against the HTTP app over the real engine. The seed's dates are moved forward
// by whole weeks (same weekday, same time of day) so its availability window lies ahead.

import assert from 'node:assert/strict';
import {
  ActionReply,
  AvailabilityV1Reply,
  CreateReply,
  PollReply,
  SearchReply,
} from '../../src/http/schemas';
import { parseAs } from './helpers';
import { RealHarness, WEEK_MS, iso } from './real-engine-harness';

const SEED_DAY = Date.UTC(2014, 6, 30); // a Wednesday
/** Whole weeks that carry the seed's day past 2030-01-01. */
const SHIFT = Math.ceil((Date.UTC(2030, 0, 1) - SEED_DAY) / WEEK_MS) * WEEK_MS;
const moved = (seedIso: string): number => Date.parse(seedIso) + SHIFT;

/** The seed's response Date header of the availability request: "now" in the replay. */
const NOW = moved('2014-07-30T14:36:01.000Z');
const TIMESTAMP = moved('2014-07-30T14:00:00.000Z');
const DESIRED = moved('2014-07-30T15:00:00.000Z');
const SERVICE_URL = '/genesys/1/service/callback/user-scheduled';

const BROWSER_HEADERS = {
  accept: 'application/json, text/javascript, */*; q=0.01',
  'accept-encoding': 'gzip,deflate,sdch',
  'accept-language': 'en-US,en;q=0.8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  cookie: 'JSESSIONID=1mmvrc06utu9l1s9azezm677ns; BAYEUX_BROWSER=db7a1s13ad7b0xvghy78iy6y17cq',
  host: '192.168.184.128:8080',
  pragma: 'no-cache',
  referer: 'http://192.168.184.128:8080/genesys/admin/js/sample/cb/index.html',
  'user-agent':
    'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/31.0.1650.57 Safari/537.36',
};

/** The seed's create payload: CRLF line ends, ending at `--AaB03x` without the closing `--`. */
function seedCreateBody(desiredIso: string): Buffer {
  const fields: [string, string][] = [
    ['first_name', 'John'],
    ['last_name', 'Doe'],
    ['_provide_code', 'false'],
    ['_desired_time', desiredIso],
    ['_customer_number', '5115'],
    ['location_lat', '37.8197'],
    ['location_long', '-122,4786'],
    ['_device_os', 'comet'],
    ['_call_direction', 'USERTERMINATED'],
    ['_wait_for_agent', 'true'],
    ['_wait_for_user_confirm', 'true'],
    ['_media_type', 'voice'],
  ];
  const parts = fields
    .map(([k, v]) => `--AaB03x\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  return Buffer.from(`${parts}--AaB03x`, 'utf8');
}

const CONNECT_BODY = '------WebKitFormBoundaryNY84ld7wm7oHB9fp--';

function dialogOf(id: string): Record<string, string> {
  return {
    _dialog_id: '0',
    _action: 'ConfirmationDialog',
    _text: 'You will receive the call shortly',
    _ok_title: 'Ok',
    _id: id,
  };
}

describe('the seed sequence over the real engine', function () {
  let h: RealHarness;
  beforeEach(async () => {
    h = await RealHarness.start({ start: NOW });
  });
  afterEach(async () => {
    await h.stop();
  });

  it('moves the seed by whole weeks, keeping the weekday and the time of day', () => {
    assert.equal(new Date(DESIRED).getUTCDay(), 3);
    assert.equal(iso(DESIRED).slice(10), 'T15:00:00.000Z');
    assert.ok(DESIRED > NOW);
  });

  it('answers the seed availability request with ISO-ms slot keys and capacity 100 each', async () => {
    const res = await h.inject({
      method: 'GET',
      url: `${SERVICE_URL}/availability?timestamp=${iso(TIMESTAMP)}&_=1406647599350`,
      headers: BROWSER_HEADERS,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.match(String(res.headers['cache-control']), /no-cache/);
    const slots = parseAs<Record<string, number>>(AvailabilityV1Reply, res.body);
    const keys = Object.keys(slots);
    assert.ok(keys.length > 0, 'some slots');
    for (const k of keys) {
      assert.match(k, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
      assert.equal(slots[k], 100);
      assert.ok(Date.parse(k) + 5 * 60_000 > NOW, `${k} is not over`);
    }
    assert.ok(iso(DESIRED) in slots, 'the seed desired time is offered');
    // Every remaining 5-minute slot of the seed's day is offered, in order.
    const first = Math.ceil(NOW / 300_000) * 300_000;
    const endOfDay = moved('2014-07-31T00:00:00.000Z');
    for (let t = first; t < endOfDay; t += 300_000) assert.ok(iso(t) in slots, iso(t));
    assert.deepEqual(keys, [...keys].sort());
  });

  it('replays create, ConfirmationDialog, connect, and runs to AGENT_CONNECTED', async () => {
    const body = seedCreateBody(iso(DESIRED));
    assert.equal(body.length, 915, "the seed's Content-Length");
    const created = await h.inject({
      method: 'POST',
      url: SERVICE_URL,
      headers: {
        ...BROWSER_HEADERS,
        'content-length': String(body.length),
        'content-type': 'multipart/form-data;boundary=AaB03x;charset=UTF-8',
        cookie:
          'JSESSIONID=1mmvrc06utu9lls9azezm677ns; BAYEUX_BROWSER=db7a1s13ad7b0xvqhy78iy6y17cq',
        gms_user: 'jdoe desktop',
        origin: 'http://192.168.184.128:8080',
      },
      payload: body,
    });
    assert.equal(created.statusCode, 200, created.body);
    const { _id: id } = parseAs<{ _id: string }>(CreateReply, created.body);
    assert.match(id, /^440-[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(JSON.parse(created.body) as object), ['_id']);
    assert.equal(h.state(id), 'SCHEDULED');

    // Before the desired time (minus EWT, at most the threshold) nothing is pushed.
    await h.advance(DESIRED - 181_000 - h.clock.now());
    assert.equal(h.dialogs(id).length, 0);
    await h.until(() => h.dialogs(id).length > 0, 'the ConfirmationDialog', 10 * 60_000);
    assert.ok(h.clock.now() <= DESIRED, 'pushed no later than the desired time');

    const poll = await h.inject({
      method: 'GET',
      url: `/genesys/1/service/${id}/events?mode=poll`,
    });
    assert.equal(poll.statusCode, 200, poll.body);
    const { messages } = parseAs<{ messages: Array<{ kind: string; data: unknown }> }>(
      PollReply,
      poll.body,
    );
    const dialogs = messages.filter((m) => m.kind === 'dialog').map((m) => m.data);
    assert.deepEqual(dialogs, [dialogOf(id)]);
    assert.deepEqual(h.customerDials(id), [], 'nobody is dialled before the connect');

    const connect = await h.inject({
      method: 'POST',
      url: `/genesys/1/service/${id}/connect`,
      headers: {
        accept: '*/*',
        'content-length': String(CONNECT_BODY.length),
        'content-type': 'multipart/form-data; boundary=----WebKitFormBoundaryNY84ld7wm7oHB9fp',
        gms_user: 'b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673',
        host: 'localhost:8080',
        origin: 'http://localhost:8080',
      },
      payload: CONNECT_BODY,
    });
    assert.equal(connect.statusCode, 200, connect.body);
    assert.deepEqual(parseAs(ActionReply, connect.body), dialogOf(id));

    const view = async (): Promise<Record<string, unknown>> => {
      const res = await h.inject({ method: 'GET', url: `${SERVICE_URL}?_id=${id}` });
      assert.equal(res.statusCode, 200, res.body);
      const rows = parseAs<Array<Record<string, unknown>>>(SearchReply, res.body);
      assert.equal(rows.length, 1);
      return rows[0];
    };
    await h.until(() => h.state(id) === 'PROCESSING', 'PROCESSING', 10 * 60_000);
    assert.equal((await view())._callback_state, 'PROCESSING');
    assert.deepEqual(h.customerDials(id), [`${id}-c1`]);
    await h.until(() => h.state(id) === 'COMPLETED', 'COMPLETED', 10 * 60_000);
    const done = await view();
    assert.equal(done._callback_state, 'COMPLETED');
    assert.equal(done._callback_reason, 'AGENT_CONNECTED');
    assert.equal(done._desired_time, iso(DESIRED));

    const byName = await h.inject({ method: 'GET', url: `${SERVICE_URL}?first_name=John` });
    assert.equal(byName.statusCode, 200, byName.body);
    const rows = parseAs<Array<Record<string, unknown>>>(SearchReply, byName.body);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]._id, id);
    assert.equal(rows[0].first_name, 'John');
    assert.equal(rows[0].last_name, 'Doe');
    assert.equal(rows[0].location_lat, '37.8197');
    assert.equal(rows[0].location_long, '-122,4786');
    assert.equal(rows[0]._customer_number, '5115');
  });
});
