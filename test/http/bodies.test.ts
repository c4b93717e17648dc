import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ActionReply, CreateReply } from '../../src/http/schemas';
import type { FakeEngine } from '../helpers/fake-engine';
import { SERVICE, assertError, multipart, parseAs, setup } from './helpers';

const URL_CREATE = `/genesys/1/service/callback/${SERVICE}`;

/** The seed's create request, underscores restored. */
const SEED_FIELDS: [string, string][] = [
  ['first_name', 'John'],
  ['last_name', 'Doe'],
  ['_provide_code', 'false'],
  ['_desired_time', '2014-07-30T15:00:00.000Z'],
  ['_customer_number', '5115'],
  ['location_lat', '37.8197'],
  ['location_long', '-122.4786'],
  ['_device_os', 'comet'],
  ['_call_direction', 'USERTERMINATED'],
  ['_wait_for_agent', 'true'],
  ['_wait_for_user_confirm', 'true'],
  ['_media_type', 'voice'],
];
const SEED_CREATE_TYPE = 'multipart/form-data;boundary=AaB03x;charset=UTF-8';

describe('request bodies', () => {
  let app: FastifyInstance;
  let engine: FakeEngine;

  beforeEach(async () => {
    ({ app, engine } = await setup());
  });
  afterEach(() => app.close());

  it('replays the seed create (multipart, boundary AaB03x, CRLF) and answers { _id }', async () => {
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': SEED_CREATE_TYPE },
      payload: multipart('AaB03x', SEED_FIELDS),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(parseAs<{ _id: string }>(CreateReply, res.body)._id, /^440-[0-9a-f-]{36}$/);
    assert.deepEqual(engine.callsOf('create')[0], [SERVICE, Object.fromEntries(SEED_FIELDS)]);
  });

  it("accepts the seed's 915-byte body that ends at a delimiter without the closing --", async () => {
    const body = multipart('AaB03x', SEED_FIELDS, false);
    assert.equal(body.length, 915);
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': SEED_CREATE_TYPE },
      payload: body,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(engine.callsOf('create')[0][1], Object.fromEntries(SEED_FIELDS));
  });

  it('refuses a multipart body cut inside a part with 400 instead of dropping the field', async () => {
    const whole = multipart('AaB03x', SEED_FIELDS).toString('utf8');
    const cut = whole.slice(0, whole.indexOf('2014-07-30T15') + 8);
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': SEED_CREATE_TYPE },
      payload: cut,
    });
    assertError(res, 400, 'CallbackExceptionInvalidField');
    assert.equal(engine.callsOf('create').length, 0);
  });

  for (const payload of [
    '------WebKitFormBoundaryNY84ld7wm7oHB9fp--\r\n',
    '------WebKitFormBoundaryNY84ld7wm7oHB9fp--',
  ]) {
    it(`parses the seed connect body ${JSON.stringify(payload)} as zero fields`, async () => {
      const created = await app.inject({
        method: 'POST',
        url: URL_CREATE,
        payload: { _customer_number: '5115' },
      });
      const id = parseAs<{ _id: string }>(CreateReply, created.body)._id;
      const res = await app.inject({
        method: 'POST',
        url: `/genesys/1/service/${id}/connect`,
        headers: {
          'content-type': 'multipart/form-data; boundary=----WebKitFormBoundaryNY84ld7wm7oHB9fp',
        },
        payload,
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(parseAs(ActionReply, res.body), {
        _dialog_id: '0',
        _action: 'ConfirmationDialog',
        _text: 'You will receive the call shortly',
        _ok_title: 'Ok',
        _id: id,
      });
      assert.deepEqual(engine.callsOf('action')[0], [id, 'connect', {}]);
    });
  }

  it('gives the engine identical field maps for multipart, url-encoded and JSON bodies', async () => {
    const fields: [string, string][] = [
      ['_customer_number', '+33 1 23 45 67 89'],
      ['_desired_time', '2014-07-30T15:00:00.000Z'],
      ['note', 'élan & co = 100%'],
      ['empty', ''],
    ];
    await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      payload: multipart('xyz', fields),
    });
    await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    });
    await app.inject({ method: 'POST', url: URL_CREATE, payload: Object.fromEntries(fields) });
    const maps = engine.callsOf('create').map((c) => c[1]);
    assert.equal(maps.length, 3);
    assert.deepEqual(maps[0], Object.fromEntries(fields));
    assert.deepEqual(maps[1], maps[0]);
    assert.deepEqual(maps[2], maps[0]);
  });

  it('refuses a field repeated in a form with 400', async () => {
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      payload: multipart('xyz', [
        ['_customer_number', '1'],
        ['_customer_number', '2'],
      ]),
    });
    assertError(res, 400, 'CallbackExceptionInvalidField');
  });

  it('refuses a file upload with 400', async () => {
    const payload =
      '--xyz\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--xyz--\r\n';
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      payload,
    });
    assertError(res, 400, 'CallbackExceptionInvalidField');
  });

  it('refuses garbage declared as multipart with 400', async () => {
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'multipart/form-data' },
      payload: 'not multipart at all',
    });
    assertError(res, 400, 'CallbackExceptionInvalidField');
  });

  it('answers a text/plain body with 415 CallbackExceptionUnsupportedMediaType', async () => {
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'text/plain' },
      payload: '_customer_number=5115',
    });
    assertError(res, 415, 'CallbackExceptionUnsupportedMediaType');
  });

  describe('a body over the limit (64 KiB)', () => {
    const big = 'x'.repeat(70 * 1024);
    it('is refused as JSON with 413', async () => {
      const res = await app.inject({
        method: 'POST',
        url: URL_CREATE,
        payload: { _customer_number: big },
      });
      assertError(res, 413, 'CallbackExceptionPayloadTooLarge');
    });
    it('is refused as url-encoded with 413', async () => {
      const res = await app.inject({
        method: 'POST',
        url: URL_CREATE,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `_customer_number=${big}`,
      });
      assertError(res, 413, 'CallbackExceptionPayloadTooLarge');
    });
    it('is refused as multipart with 413', async () => {
      const res = await app.inject({
        method: 'POST',
        url: URL_CREATE,
        headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
        payload: multipart('xyz', [['_customer_number', big]]),
      });
      assertError(res, 413, 'CallbackExceptionPayloadTooLarge');
    });
    it('is refused as multipart with 413 even when many small fields add up', async () => {
      const fields: [string, string][] = [];
      for (let i = 0; i < 150; i++) fields.push([`f${i}`, 'y'.repeat(600)]);
      const payload = multipart('xyz', fields);
      const res = await app.inject({
        method: 'POST',
        url: URL_CREATE,
        // No Content-Length check to lean on: the limit must hold on the bytes received.
        headers: {
          'content-type': 'multipart/form-data; boundary=xyz',
          'transfer-encoding': 'chunked',
        },
        payload,
      });
      assertError(res, 413, 'CallbackExceptionPayloadTooLarge');
      assert.equal(engine.callsOf('create').length, 0);
    });
  });

  it('refuses too many multipart fields with 413', async () => {
    const fields: [string, string][] = [];
    for (let i = 0; i < 250; i++) fields.push([`f${i}`, 'v']);
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      payload: multipart('xyz', fields),
    });
    assertError(res, 413, 'CallbackExceptionPayloadTooLarge');
  });

  it('refuses a __proto__ key with 400 and leaves Object.prototype alone', async () => {
    const res = await app.inject({
      method: 'POST',
      url: URL_CREATE,
      headers: { 'content-type': 'application/json' },
      payload: '{"_customer_number":"5115","__proto__":{"polluted":"yes"}}',
    });
    assertError(res, 400, 'CallbackExceptionInvalidField');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
