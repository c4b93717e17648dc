// The mixed load of the chaos fuzz run against a real `dialback start` process: fast-check's
// hostile requests (test/faults/hostile-engine.ts) interleaved with well-formed work that the
// server accepts (creates at free slots and immediate ones, then cancels, reschedules, queries,
// connects and queue positions on their ids), some of it valid bookings with hostile parts
// (injected user-data keys, dial-string look-alikes in user data). Every request goes over a
// real socket; the heap is read through test/chaos/gc-probe.ts after forced GCs.

import fs from 'node:fs';
import http from 'node:http';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { mulberry32 } from '../../src/telephony/simulator/rng';
import { requestArb } from '../faults/hostile-engine';
import { sleep, type ServerProcess } from './server-process';

export interface Reply {
  /** 0 when the server closed the connection without an answer. */
  status: number;
  body: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Anything Node's client would refuse to put on the request line, percent-encoded. */
function safePath(p: string): string {
  return p.replace(/[^\u0021-\u007e]/gu, (c) => encodeURIComponent(c));
}

/** One request over a keep-alive socket; a connection the server cuts is status 0, not a throw. */
export function send(
  agent: http.Agent,
  port: number,
  r: RawRequest,
  timeoutMs = 10_000,
): Promise<Reply> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (rep: Reply): void => {
      if (!done) {
        done = true;
        resolve(rep);
      }
    };
    let req: http.ClientRequest;
    try {
      req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: r.method,
          path: safePath(r.path),
          headers: r.headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', () =>
            finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
    } catch (err) {
      // Node's own client refused the request (an invalid header value): nothing was sent.
      finish({ status: -1, body: String(err) });
      return;
    }
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => finish({ status: 0, body: String(err) }));
    if (r.body !== undefined) req.end(r.body);
    else req.end();
  });
}

/** The hostile request of the in-process fuzzer, as bytes for a real socket. */
export function fromInject(o: InjectOptions): RawRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((o.headers ?? {}) as Record<string, unknown>))
    headers[k] = String(v);
  return {
    method: String(o.method ?? 'GET'),
    path: String(o.url),
    headers,
    ...(o.payload !== undefined ? { body: o.payload as string | Buffer } : {}),
  };
}

// ---- heap ------------------------------------------------------------------------------------

export interface HeapReading {
  heapUsedMiB: number;
  rssMiB: number;
  /** V8's heap spaces in use (old, code, large objects...), used bytes in MiB. */
  spacesMiB: Record<string, number>;
}

const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

/** Asks the child (SIGUSR2) to collect garbage and report; waits for the new report. */
export async function probeHeap(server: ServerProcess, file: string): Promise<HeapReading> {
  const seqOf = (): number => {
    try {
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { seq: number }).seq;
    } catch {
      return 0;
    }
  };
  const before = seqOf();
  server.child.kill('SIGUSR2');
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    await sleep(20);
    if (seqOf() > before) {
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        heapUsed: number;
        rss: number;
        spaces: Record<string, number>;
      };
      return {
        heapUsedMiB: mib(m.heapUsed),
        rssMiB: mib(m.rss),
        spacesMiB: Object.fromEntries(
          Object.entries(m.spaces)
            .filter(([, v]) => v > 0)
            .map(([k, v]) => [k, mib(v)]),
        ),
      };
    }
  }
  throw new Error('the server did not answer the heap probe (is test/chaos/gc-probe.ts loaded?)');
}

/** The least of a few readings after forced GCs: what the heap really holds at rest. */
export async function restingHeap(
  server: ServerProcess,
  file: string,
  samples = 5,
): Promise<HeapReading> {
  let best: HeapReading | undefined;
  for (let i = 0; i < samples; i++) {
    const r = await probeHeap(server, file);
    if (!best || r.heapUsedMiB < best.heapUsedMiB) best = r;
    await sleep(200);
  }
  return best as HeapReading;
}

// ---- the ledger of accepted work -------------------------------------------------------------

type Kind = 'scheduled' | 'now' | 'delayed';

interface Booking {
  id: string;
  service: string;
  kind: Kind;
  createdAt: number;
  cancelled: boolean;
}

export interface MixFigures {
  requests: number;
  hostile: number;
  wellFormed: number;
  byStatus: Record<string, number>;
  byOp: Record<string, Record<string, number>>;
  fiveXx: Array<{ request: string; status: number; body: string }>;
  /** Hostile requests whose connection the server closed without a status (byStatus 0). */
  closedWithoutAnswer: number;
  /** Well-formed requests that got no answer at all: must stay 0. */
  wellFormedUnanswered: number;
  /** Requests Node's client refused to send (status -1): not counted as requests. */
  notSent: number;
  bookingsCreated: number;
  bookingsByKind: Record<Kind, number>;
  hostileCreatesAccepted: number;
  cancelsAcked: number;
  reschedulesAcked: number;
  connectsAcked: number;
  /** An accepted create whose `_id` was the one smuggled into its body. */
  idTakeovers: number;
}

export class Mix {
  readonly bookings = new Map<string, Booking>();
  readonly figures: MixFigures = {
    requests: 0,
    hostile: 0,
    wellFormed: 0,
    byStatus: {},
    byOp: {},
    fiveXx: [],
    closedWithoutAnswer: 0,
    wellFormedUnanswered: 0,
    notSent: 0,
    bookingsCreated: 0,
    bookingsByKind: { scheduled: 0, now: 0, delayed: 0 },
    hostileCreatesAccepted: 0,
    cancelsAcked: 0,
    reschedulesAcked: 0,
    connectsAcked: 0,
    idTakeovers: 0,
  };
  /** Free slot starts (ISO) from the last availability reply. */
  private slots: string[] = [];
  private scheduledOpen: string[] = [];
  private delayedIds: string[] = [];
  private readonly rng: () => number;
  private hostileQueue: RawRequest[] = [];
  private seq = 0;
  private readonly oneShot = new http.Agent({ keepAlive: false });

  constructor(
    private readonly port: number,
    private readonly agent: http.Agent,
    private readonly seed: number,
    /** Share of requests drawn from the hostile fuzzer; the rest is well-formed work. */
    private readonly hostileShare: number,
  ) {
    this.rng = mulberry32(seed);
  }

  private pick<T>(xs: T[]): T | undefined {
    return xs.length ? xs[Math.floor(this.rng() * xs.length)] : undefined;
  }

  private count(op: string, rep: Reply, r: RawRequest): void {
    const f = this.figures;
    f.requests++;
    const s = String(rep.status);
    f.byStatus[s] = (f.byStatus[s] ?? 0) + 1;
    const byOp = (f.byOp[op] ??= {});
    byOp[s] = (byOp[s] ?? 0) + 1;
    if (rep.status === 0) {
      if (op === 'hostile') f.closedWithoutAnswer++;
      else f.wellFormedUnanswered++;
    }
    if (rep.status >= 500 && f.fiveXx.length < 20)
      f.fiveXx.push({
        request: `${op}: ${r.method} ${r.path.slice(0, 200)} ${JSON.stringify(r.headers ?? {}).slice(0, 200)} ${String(r.body ?? '').slice(0, 300)}`,
        status: rep.status,
        body: rep.body.slice(0, 300),
      });
  }

  private async call(op: string, r: RawRequest): Promise<Reply> {
    // Hostile requests get a connection of their own: the server may close it after refusing
    // one, and a well-formed request must not be the next one on that socket.
    const rep = await send(op === 'hostile' ? this.oneShot : this.agent, this.port, r);
    if (rep.status === -1) this.figures.notSent++;
    else this.count(op, rep, r);
    return rep;
  }

  /** The next batch of hostile requests, aimed partly at ids that exist now. */
  private refillHostile(): void {
    const known = [...this.bookings.keys()].slice(-300);
    const ids = known.length ? known : ['440-none'];
    this.hostileQueue = fc
      .sample(requestArb(ids), { numRuns: 500, seed: this.seed + this.seq++ })
      .map(fromInject);
  }

  private number(): string {
    const r = this.rng();
    if (r < 0.15) return '5115';
    // +33 61…: every such number is a valid French mobile (not so for every +33 6…).
    const digits = `1${String(Math.floor(this.rng() * 1e7)).padStart(7, '0')}`;
    // Valid numbers written the ways people write them: stored as E.164 all the same.
    if (r < 0.25) return `+33 6 ${digits.replace(/(\d\d)(?=\d)/g, '$1 ')}`;
    return `+336${digits}`;
  }

  private freeSlot(): string | undefined {
    return this.pick(this.slots);
  }

  private async refreshSlots(): Promise<void> {
    const v2 = this.rng() < 0.5;
    const start = Date.now() + 3 * 3600_000;
    const path = v2
      ? `/genesys/2/service/callback/open/availability?start-ms=${start}&number-of-days=3&timezone=Europe%2FParis`
      : `/genesys/1/service/callback/open/availability?start=${new Date(start).toISOString()}&number-of-days=3`;
    const rep = await this.call('availability', { method: 'GET', path });
    if (rep.status !== 200) return;
    const out = JSON.parse(rep.body) as
      Record<string, number> | { slots: Array<{ utcTime: string; capacity: number }> };
    const slots = Array.isArray((out as { slots?: unknown }).slots)
      ? (out as { slots: Array<{ utcTime: string; capacity: number }> }).slots
          .filter((s) => s.capacity > 0)
          .map((s) => s.utcTime)
      : Object.entries(out as Record<string, number>)
          .filter(([, c]) => c > 0)
          .map(([t]) => t);
    if (slots.length) this.slots = slots;
  }

  /** A valid create, possibly with hostile parts that must not stop it from being accepted. */
  private async create(kind: Kind, hostile: boolean): Promise<void> {
    const service = kind === 'delayed' ? 'delayed' : this.rng() < 0.7 ? 'open' : 'overwrites';
    const fields: Record<string, string> = {
      _customer_number: this.number(),
      first_name: 'John',
      run_seq: String(this.figures.requests),
    };
    if (kind === 'scheduled') {
      const slot = this.freeSlot();
      if (!slot) return this.refreshSlots();
      fields._desired_time = slot;
    }
    let smuggledId: string | undefined;
    let extraJson = '';
    if (hostile) {
      const lookAlikes = [
        '5115&PJSIP/other',
        '5115,PJSIP/other',
        '5115;x=1',
        '5115\r\nAction: Originate\r\nChannel: PJSIP/evil',
        '５１１５',
        '٥١١٥',
        '${EXTEN}',
        'PJSIP/agent1',
        '5115|Dial(PJSIP/x)',
      ];
      fields.note = this.pick(lookAlikes) as string;
      fields.alt_number = this.pick(lookAlikes) as string;
      const k = this.rng();
      if (k < 0.25)
        extraJson = ',"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"x":1}}';
      else if (k < 0.5) {
        smuggledId = `440-smuggled-${this.seq++}`;
        fields._id = smuggledId;
      } else if (k < 0.75) fields[`k${'e'.repeat(200)}`] = 'long key';
      else fields['a\nb;c,d&e'] = '5115&PJSIP/other';
    }
    const form = this.rng();
    let req: RawRequest;
    const path = `/genesys/1/service/callback/${service}`;
    if (form < 0.7 || extraJson) {
      const body = JSON.stringify(fields).slice(0, -1) + extraJson + '}';
      req = { method: 'POST', path, headers: { 'content-type': 'application/json' }, body };
    } else if (form < 0.85) {
      req = {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Object.entries(fields)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&'),
      };
    } else {
      req = {
        method: 'POST',
        path,
        headers: { 'content-type': 'multipart/form-data; boundary=b0undary' },
        body:
          Object.entries(fields)
            .map(
              ([k, v]) =>
                `--b0undary\r\nContent-Disposition: form-data; name="${k.replace(/[\r\n"]/g, '_')}"\r\n\r\n${v}\r\n`,
            )
            .join('') + '--b0undary--\r\n',
      };
    }
    const rep = await this.call(hostile ? `create-${kind}-hostile` : `create-${kind}`, req);
    if (rep.status !== 200) {
      if (kind === 'scheduled' && rep.status === 409)
        this.slots = this.slots.filter((s) => s !== fields._desired_time);
      return;
    }
    const id = (JSON.parse(rep.body) as { _id: string })._id;
    if (smuggledId !== undefined && id === smuggledId) this.figures.idTakeovers++;
    this.bookings.set(id, { id, service, kind, createdAt: Date.now(), cancelled: false });
    this.figures.bookingsCreated++;
    this.figures.bookingsByKind[kind]++;
    if (hostile) this.figures.hostileCreatesAccepted++;
    if (kind === 'scheduled') this.scheduledOpen.push(id);
    if (kind === 'delayed') this.delayedIds.push(id);
  }

  private async cancel(): Promise<void> {
    const id = this.pick(this.scheduledOpen);
    if (!id) return this.create('scheduled', false);
    const b = this.bookings.get(id) as Booking;
    const rep = await this.call('cancel', {
      method: 'DELETE',
      path: `/genesys/1/service/callback/${b.service}/${id}`,
    });
    if (rep.status === 200) {
      b.cancelled = true;
      this.figures.cancelsAcked++;
      this.scheduledOpen = this.scheduledOpen.filter((x) => x !== id);
    }
  }

  private async reschedule(): Promise<void> {
    const id = this.pick(this.scheduledOpen);
    const slot = this.freeSlot();
    if (!id || !slot) return this.refreshSlots();
    const b = this.bookings.get(id) as Booking;
    const body = JSON.stringify({ _new_desired_time: slot });
    const rep = await this.call('reschedule', {
      method: 'PUT',
      path: `/genesys/1/service/callback/${b.service}/${id}`,
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (rep.status === 200) this.figures.reschedulesAcked++;
  }

  private async query(): Promise<void> {
    const b = this.pick([...this.bookings.values()].slice(-500));
    if (!b) return this.create('now', false);
    const byNumber = this.rng() < 0.2;
    await this.call('query', {
      method: 'GET',
      path: byNumber
        ? `/genesys/1/service/callback/${b.service}?_customer_number=5115&first_name=John&operand=AND`
        : `/genesys/1/service/callback/${b.service}?_id=${b.id}`,
    });
  }

  private async connect(): Promise<void> {
    // Give the session a moment to reach its confirmation dialog before the device answers.
    const ready = this.delayedIds.filter(
      (id) => Date.now() - (this.bookings.get(id) as Booking).createdAt > 300,
    );
    const id = this.pick(ready.slice(-50));
    if (!id) return this.create('delayed', false);
    const rep = await this.call('connect', {
      method: 'POST',
      path: `/genesys/1/service/${id}/connect`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (rep.status === 200) {
      this.figures.connectsAcked++;
      this.delayedIds = this.delayedIds.filter((x) => x !== id);
    }
  }

  private async idRead(): Promise<void> {
    const b = this.pick([...this.bookings.values()].slice(-200));
    if (!b) return this.create('now', false);
    await this.call(this.rng() < 0.5 ? 'queue-position' : 'events-poll', {
      method: 'GET',
      path:
        this.rng() < 0.5
          ? `/genesys/1/service/${b.id}/check-queue-position`
          : `/genesys/1/service/${b.id}/events?mode=poll&after=0&wait=0`,
    });
  }

  /** One request of the mix. */
  async step(): Promise<void> {
    if (this.rng() < this.hostileShare) {
      if (this.hostileQueue.length === 0) this.refillHostile();
      const r = this.hostileQueue.pop() as RawRequest;
      this.figures.hostile++;
      await this.call('hostile', r);
      return;
    }
    this.figures.wellFormed++;
    const r = this.rng();
    if (r < 0.06 || this.slots.length === 0) return this.refreshSlots();
    if (r < 0.32) return this.create('scheduled', false);
    if (r < 0.45) return this.create('now', false);
    if (r < 0.5) return this.create('delayed', false);
    if (r < 0.62) return this.create(this.rng() < 0.6 ? 'scheduled' : 'now', true);
    if (r < 0.7) return this.cancel();
    if (r < 0.78) return this.reschedule();
    if (r < 0.88) return this.query();
    if (r < 0.93) return this.connect();
    return this.idRead();
  }

  /** Runs `count` requests of the mix from `workers` concurrent clients. */
  async run(count: number, workers: number): Promise<void> {
    const target = this.figures.requests + this.figures.notSent + count;
    const sent = (): number => this.figures.requests + this.figures.notSent;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (sent() < target) await this.step();
      }),
    );
  }
}
