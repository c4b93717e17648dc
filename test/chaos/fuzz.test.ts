// The long hostile-input run against a real `dialback start` process (test/chaos/fuzz-config.yaml)
// over real sockets: fast-check's hostile requests mixed with well-formed work the server
// accepts (thousands of bookings, then cancels, reschedules, queries and connects on them, some
// with injected keys and dial-string look-alikes). The child's heap is read after forced GCs
// (test/chaos/gc-probe.ts) at warm-up and after each quarter. Then header abuse that only a
// real socket can carry (duplicated Content-Length, oversized headers, broken chunking).

import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DIALABLE, SAFE_CALLER_ID } from '../faults/hostile-engine';
import { PROFILE, recordFigures } from './figures';
import { Mix, restingHeap, send, type HeapReading } from './fuzz-load';
import { freePort, sleep, startServer, stopServer, type ServerProcess } from './server-process';

const RUNS = Number(process.env.FUZZ_RUNS ?? (PROFILE === 'ci' ? 10_000 : 20_000));
const WARMUP = 1000;
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const WORKERS = 4;
/** Share of the requests drawn from the hostile fuzzer; the rest is well-formed work. */
const HOSTILE_SHARE = Number(process.env.FUZZ_HOSTILE_SHARE ?? 0.4);
/**
 * Heap growth allowed from the warm-up reading to the last quarter's, after forced GCs. The
 * open bookings legitimately live in memory too (timer entries, slot seats, per-number counts,
 * well under 1 KiB each); 16 MiB leaves room for that and for V8's code and IC caches, and is
 * still far below what a leak of one request body (60-300 KB) in a hundred would reach.
 */
const HEAP_BOUND_MIB = 16;

/** A heap reading and the session actors live when it was taken (`/metrics`). */
type RestingReading = HeapReading & { sessionsLive: number };

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

describe('chaos: hostile input against a real server process', function () {
  this.timeout(10 * 60_000);
  let dir: string;
  let server: ServerProcess;
  let port: number;
  let heapFile: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-fuzz-'));
    heapFile = path.join(dir, 'heap.json');
    port = await freePort();
    server = await startServer({
      port,
      configFile: path.join(__dirname, 'fuzz-config.yaml'),
      dataDir: dir,
      dialLog: path.join(dir, 'dials.log'),
      env: { DIALBACK_HEAP_PROBE: heapFile },
      nodeArgs: [
        '--expose-gc',
        '--require',
        'tsx/cjs',
        '--require',
        path.join(__dirname, 'gc-probe.ts'),
      ],
    });
  });
  after(async () => {
    if (server) await stopServer(server, 'SIGKILL');
    if (!process.env.CHAOS_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`      fuzz data kept in ${dir}\n`);
  });

  it(`answers ${RUNS} mixed hostile and well-formed requests without a 5xx, stays alive, keeps every booking and its heap flat`, async () => {
    const t0 = Date.now();
    const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });
    const mix = new Mix(port, agent, SEED, HOSTILE_SHARE);
    process.stdout.write(`      fuzz seed ${SEED}\n`);
    // Sessions in flight finish and idle actors stop (idle_ms 500) before each reading.
    const rest = async (): Promise<RestingReading> => {
      await sleep(2000);
      const reading = await restingHeap(server, heapFile);
      const metrics = await send(agent, port, { method: 'GET', path: '/metrics' });
      const live = /^dialback_sessions_live (\d+)/m.exec(metrics.body);
      return { ...reading, sessionsLive: Number(live?.[1] ?? -1) };
    };
    await mix.run(WARMUP, WORKERS);
    const heap: Record<string, RestingReading> = { warmup: await rest() };
    for (let q = 1; q <= 4; q++) {
      await mix.run(RUNS / 4, WORKERS);
      heap[`q${q}`] = await rest();
    }
    const runSeconds = Math.round((Date.now() - t0) / 100) / 10;
    agent.destroy();

    // Nothing lost: every create answered 200 is found by a query afterwards.
    const check = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const missing: string[] = [];
    const all = [...mix.bookings.values()];
    for (let i = 0; i < all.length; i += 8)
      await Promise.all(
        all.slice(i, i + 8).map(async (b) => {
          const rep = await send(check, port, {
            method: 'GET',
            path: `/genesys/1/service/callback/${b.service}?_id=${b.id}`,
          });
          const found =
            rep.status === 200 &&
            (JSON.parse(rep.body) as Array<{ _id: string }>).some((v) => v._id === b.id);
          if (!found) missing.push(b.id);
        }),
      );
    const health = await send(check, port, { method: 'GET', path: '/healthz' });
    check.destroy();
    const alive = server.child.exitCode === null && server.child.signalCode === null;

    const db = new Database(path.join(dir, 'dialback.db'), { readonly: true });
    let stored: string[], dialled: string[], callerIds: string[], inStore: number;
    try {
      stored = (
        db.prepare('SELECT customer_number AS n FROM callbacks').all() as Array<{ n: string }>
      ).map((r) => r.n);
      inStore = stored.length;
      const dialRows = db
        .prepare(
          `SELECT c.customer_number AS n, o.json AS options FROM dials d
             JOIN callbacks c ON c.id = d.callback_id JOIN option_sets o ON o.id = c.options_id`,
        )
        .all() as Array<{ n: string; options: string }>;
      dialled = dialRows.map((r) => r.n);
      callerIds = dialRows.map((r) =>
        String(
          (JSON.parse(r.options) as { _calling_party_number?: unknown })._calling_party_number ??
            '',
        ),
      );
    } finally {
      db.close();
    }

    const f = mix.figures;
    const twoXx = Object.entries(f.byStatus)
      .filter(([s]) => Number(s) >= 200 && Number(s) < 300)
      .reduce((a, [, c]) => a + c, 0);
    const fourXx = Object.entries(f.byStatus)
      .filter(([s]) => Number(s) >= 400 && Number(s) < 500)
      .reduce((a, [, c]) => a + c, 0);
    const growth = Math.round((heap.q4.heapUsedMiB - heap.warmup.heapUsedMiB) * 10) / 10;
    const figures = {
      profile: PROFILE,
      seed: SEED,
      server: 'real process (bin/dialback.js start, test/chaos/fuzz-config.yaml)',
      heapReading:
        'heapUsed after two forced GCs in the child (--expose-gc, SIGUSR2 probe), least of 5',
      requests: f.requests,
      warmupRequests: WARMUP,
      hostile: f.hostile,
      wellFormed: f.wellFormed,
      twoXx,
      fourXx,
      fiveXx: f.fiveXx.length,
      acceptedShare: Math.round((twoXx / f.requests) * 1000) / 10,
      byStatus: f.byStatus,
      byOp: f.byOp,
      closedWithoutAnswer: f.closedWithoutAnswer,
      wellFormedUnanswered: f.wellFormedUnanswered,
      notSent: f.notSent,
      bookingsCreated: f.bookingsCreated,
      bookingsByKind: f.bookingsByKind,
      hostileCreatesAccepted: f.hostileCreatesAccepted,
      bookingsInStore: inStore,
      lost: missing.length,
      cancelsAcked: f.cancelsAcked,
      reschedulesAcked: f.reschedulesAcked,
      connectsAcked: f.connectsAcked,
      idTakeovers: f.idTakeovers,
      dialsPlaced: dialled.length,
      undialableStored: stored.filter((x) => !DIALABLE.test(x)).length,
      undialableDialled: dialled.filter((x) => !DIALABLE.test(x)).length,
      unsafeCallerIds: callerIds.filter((x) => !SAFE_CALLER_ID.test(x)).length,
      heapMiB: Object.fromEntries(Object.entries(heap).map(([k, v]) => [k, v.heapUsedMiB])),
      rssMiB: Object.fromEntries(Object.entries(heap).map(([k, v]) => [k, v.rssMiB])),
      spacesMiB: Object.fromEntries(Object.entries(heap).map(([k, v]) => [k, v.spacesMiB])),
      sessionsLive: Object.fromEntries(Object.entries(heap).map(([k, v]) => [k, v.sessionsLive])),
      heapGrowthMiB: growth,
      heapBoundMiB: HEAP_BOUND_MIB,
      healthzAfter: health.status,
      alive,
      runSeconds,
    };
    recordFigures('fuzz', figures);
    if (f.fiveXx.length) process.stdout.write(`      5xx: ${JSON.stringify(f.fiveXx, null, 2)}\n`);

    assert.ok(f.requests >= RUNS + WARMUP, `${f.requests} requests sent`);
    assert.deepEqual(f.fiveXx, [], 'no 5xx');
    assert.ok(alive, 'the server process is still running');
    assert.equal(health.status, 200, '/healthz still answers');
    assert.ok(
      figures.acceptedShare >= 30,
      `${figures.acceptedShare} % of the requests accepted (2xx)`,
    );
    assert.ok(
      f.bookingsCreated >= 0.2 * f.requests,
      `${f.bookingsCreated} bookings created of ${f.requests} requests`,
    );
    assert.equal(f.wellFormedUnanswered, 0, 'every well-formed request got an answer');
    assert.ok(f.hostileCreatesAccepted > 0, 'valid bookings with hostile parts are accepted');
    assert.deepEqual(missing.slice(0, 10), [], 'every acknowledged booking is found by a query');
    assert.equal(f.idTakeovers, 0, 'no create took the id smuggled into its body');
    assert.ok(dialled.length > 0, 'immediate bookings were dialled');
    assert.equal(figures.undialableStored, 0, 'only E.164 numbers or extensions stored');
    assert.equal(figures.undialableDialled, 0, 'only E.164 numbers or extensions dialled');
    assert.equal(figures.unsafeCallerIds, 0, 'caller ids are digits only');
    assert.ok(
      growth <= HEAP_BOUND_MIB,
      `heap after GC grew ${growth} MiB from warm-up to the last quarter (bound ${HEAP_BOUND_MIB} MiB): ${JSON.stringify(figures.heapMiB)}`,
    );
  });

  describe('header abuse on a real socket', () => {
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
