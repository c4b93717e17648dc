// The Q.850 / dial status mapping of the ARI adapter, as pure functions.

import { strict as assert } from 'node:assert';
import {
  Q850,
  dialFailure,
  failureFromCause,
  failureFromDialStatus,
  parseAmdStatus,
} from '../../src/telephony/ari/q850';
import { classifyRestError, formatCallerId } from '../../src/telephony/ari/ari-adapter';

describe('ARI cause mapping', function () {
  it('maps busy, no-answer, rejected, unreachable and congestion causes', function () {
    assert.equal(failureFromCause(17), 'busy');
    assert.equal(failureFromCause(18), 'no-answer');
    assert.equal(failureFromCause(19), 'no-answer');
    assert.equal(failureFromCause(21), 'rejected');
    for (const c of [1, 3, 20, 27, 38])
      assert.equal(failureFromCause(c), 'unreachable', `cause ${c}`);
    for (const c of [34, 41, 42, 44, 47])
      assert.equal(failureFromCause(c), 'congestion', `cause ${c}`);
  });

  it('calls an unknown or missing cause a plain failure', function () {
    assert.equal(failureFromCause(undefined), 'failed');
    assert.equal(failureFromCause(Q850.normalClearing), 'failed');
    assert.equal(failureFromCause(127), 'failed');
  });

  it('maps the Dial statuses that decide an outcome and ignores the others', function () {
    assert.equal(failureFromDialStatus('BUSY'), 'busy');
    assert.equal(failureFromDialStatus('NOANSWER'), 'no-answer');
    assert.equal(failureFromDialStatus('CONGESTION'), 'congestion');
    assert.equal(failureFromDialStatus('CHANUNAVAIL'), 'unreachable');
    for (const s of ['RINGING', 'ANSWER', 'CANCEL', '', undefined])
      assert.equal(failureFromDialStatus(s), undefined);
  });

  it('prefers the dial status over the cause', function () {
    assert.equal(dialFailure(16, 'BUSY'), 'busy');
    assert.equal(dialFailure(17, undefined), 'busy');
    assert.equal(dialFailure(19, 'RINGING'), 'no-answer');
  });

  it('parses only the AMD statuses Asterisk defines', function () {
    assert.equal(parseAmdStatus('HUMAN'), 'HUMAN');
    assert.equal(parseAmdStatus('HANGUP'), 'HANGUP');
    assert.equal(parseAmdStatus('human'), undefined);
    assert.equal(parseAmdStatus(undefined), undefined);
  });

  it('reads the kind of an ARI error from the body ari-client keeps', function () {
    assert.equal(classifyRestError(new Error('{"message":"Channel not found"}')), 'not-found');
    assert.equal(
      classifyRestError(new Error('{"message":"Channel with given unique ID already exists"}')),
      'exists',
    );
    assert.equal(classifyRestError(new Error('{"error":"Allocation failed"}')), 'allocation');
    assert.equal(
      classifyRestError(new Error('{"message":"Channel not in Stasis application"}')),
      'not-in-stasis',
    );
    assert.equal(classifyRestError(new Error('connect ECONNREFUSED 127.0.0.1:8088')), 'transport');
  });

  it('keeps a caller id free of header-breaking characters', function () {
    assert.equal(formatCallerId('+1 555-1000', 'Acme "Support"'), '"Acme Support" <+15551000>');
    assert.equal(formatCallerId('5551000'), '<5551000>');
    assert.equal(formatCallerId(undefined, undefined), undefined);
  });
});
