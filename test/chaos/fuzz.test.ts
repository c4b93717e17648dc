// The long hostile-input run: the real-engine fuzzer with 10,000+ requests (heap measured
// after forced GCs at the start and the end), then header abuse that only a real socket can
// carry (duplicated Content-Length, oversized headers, broken chunking) against a listening app.

import { strict as assert } from 'node:assert';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { runHostileFuzz, startFuzzTarget, type FuzzTarget } from '../faults/hostile-engine';
import { PROFILE, recordFigures } from './figures';

const RUNS = Number(process.env.FUZZ_RUNS ?? (PROFILE === 'ci' ? 10_000 : 20_000));
/** Heap growth allowed over the whole run, after GC (the in-memory SQLite is not on the heap). */
const HEAP_BOUND_MIB = 24;

function raw(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    sock.setTimeout(5000, () => {
      sock.destroy();
      resolve(out || 'TIMEOUT');
    });
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('end', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' ? resolve(out || 'RESET') : reject(e),
    );
    sock.write(request);
  });
}

const statusOf = (response: string): number =>
  Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);

describe('chaos: hostile input against the real engine', function () {
  this.timeout(10 * 60_000);

  it(`answers ${RUNS} fuzzed requests without a 5xx, stays healthy and keeps its heap flat`, async () => {
    const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
    const f = await runHostileFuzz(RUNS);
    recordFigures('fuzz', {
      profile: PROFILE,
      gcExposed,
      heapBoundMiB: HEAP_BOUND_MIB,
      ...f,
      fiveXx: f.fiveXx.length,
    });
    assert.equal(f.requests, RUNS);
    assert.deepEqual(f.fiveXx, [], 'no 5xx');
    assert.equal(f.healthzAfter, 200, '/healthz still answers');
    assert.deepEqual(f.undialableStored, [], 'only E.164 numbers or extensions stored');
    assert.deepEqual(f.undialableDialled, [], 'only E.164 numbers or extensions dialled');
    assert.deepEqual(f.unsafeCallerIds, [], 'caller ids are digits only');
    assert.ok(
      gcExposed,
      'run with --expose-gc (the chaos mocharc sets it) so heap readings mean something',
    );
    assert.ok(
      f.heapGrowthMiB < HEAP_BOUND_MIB,
      `heap grew ${f.heapGrowthMiB} MiB over ${RUNS} requests (bound ${HEAP_BOUND_MIB} MiB)`,
    );
  });

  describe('header abuse on a real socket', () => {
    let target: FuzzTarget;
    let app: FastifyInstance;
    let port: number;
    before(async () => {
      target = await startFuzzTarget();
      app = target.app;
      await app.listen({ host: '127.0.0.1', port: 0 });
      port = (app.server.address() as net.AddressInfo).port;
    });
    after(() => target.stop());

    const body = '{"_customer_number":"5115"}';
    const cases: Array<[string, () => string]> = [
      [
        'duplicated Content-Length with different values',
        () =>
          `POST /genesys/1/service/callback/open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`,
      ],
      [
        'Content-Length and Transfer-Encoding together (smuggling)',
        () =>
          `POST /genesys/1/service/callback/open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ],
      [
        'a 100 KiB header',
        () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`,
      ],
      [
        'broken chunked encoding',
        () =>
          `POST /genesys/1/service/callback/open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
      ],
      [
        'a header with a bare newline and a NUL',
        () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\u0000\r\n\r\n`,
      ],
      [
        'a declared body larger than the limit',
        () =>
          `POST /genesys/1/service/callback/open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n${body}`,
      ],
      [
        'an over-long request line',
        () =>
          `GET /genesys/1/service/${'x'.repeat(70_000)}/check-queue-position HTTP/1.1\r\nHost: x\r\n\r\n`,
      ],
      [
        'garbage instead of HTTP',
        () => '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n',
      ],
    ];

    for (const [name, make] of cases)
      it(`refuses ${name} with a 4xx (or closes the socket) and keeps serving`, async () => {
        const res = await raw(port, make());
        const status = statusOf(res);
        assert.ok(
          status === 0
            ? res === '' || res === 'RESET' || res === 'TIMEOUT'
            : status >= 400 && status < 500,
          `${name}: ${res.slice(0, 200)}`,
        );
        assert.notEqual(res, 'TIMEOUT', 'the server did not leave the connection hanging');
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        assert.equal(health.status, 200);
      });
  });
});
