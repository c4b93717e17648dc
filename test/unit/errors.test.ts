import assert from 'node:assert/strict';
import { DialbackError } from '../../src/errors';
import { SlotFullError } from '../../src/store/store';

function throwFrom(make: () => Error): Error {
  return make();
}

describe('DialbackError', () => {
  it('makes a refusal (4xx) without a stack trace, with its name and message', () => {
    const e = throwFrom(() => new DialbackError('CallbackExceptionNumber', 'bad number'));
    assert.equal(e.stack, 'CallbackExceptionNumber: bad number');
    const full = throwFrom(() => new SlotFullError(Date.UTC(2030, 0, 7, 9)));
    assert.equal(full.stack?.split('\n').length, 1);
    assert.equal((full as DialbackError).status, 409);
  });

  it('keeps the stack of a fault (5xx)', () => {
    const e = throwFrom(() => new DialbackError('CallbackExceptionInternal', 'broken'));
    const frames = (e.stack ?? '').split('\n').slice(1);
    assert.ok(
      frames.some((f) => f.includes('throwFrom')),
      e.stack,
    );
  });

  it('leaves the stack limit of other errors as it was', () => {
    const before = Error.stackTraceLimit;
    new DialbackError('CallbackExceptionNotFound', 'gone');
    assert.equal(Error.stackTraceLimit, before);
    assert.ok((new Error('x').stack ?? '').split('\n').length > 1);
  });
});
