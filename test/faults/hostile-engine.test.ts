// Hostile input against the real engine (quick run for `npm test`; the chaos suite runs the
// same fuzzer with 10,000+ requests): never a 5xx, the app still healthy, and nothing but an
// E.164 number or a plain-digit extension is ever stored or dialled.

import { strict as assert } from 'node:assert';
import { runHostileFuzz } from './hostile-engine';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);

describe('hostile input against the real engine (quick)', function () {
  this.timeout(120_000);

  it(`answers ${RUNS} fuzzed requests on every route without a 5xx and stores only dialable numbers`, async () => {
    const f = await runHostileFuzz(RUNS);
    assert.equal(f.requests, RUNS);
    assert.deepEqual(f.fiveXx, [], 'no 5xx');
    assert.equal(f.healthzAfter, 200, '/healthz still answers');
    assert.ok(f.bookingsCreated > 6, `some fuzzed bookings were accepted (${f.bookingsCreated})`);
    assert.deepEqual(f.undialableStored, [], 'only E.164 numbers or extensions stored');
    assert.deepEqual(f.undialableDialled, [], 'only E.164 numbers or extensions dialled');
    assert.deepEqual(f.unsafeCallerIds, [], 'caller ids are digits only');
  });
});
