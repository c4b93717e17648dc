// The crash harness: a real `dialback start` process under steady HTTP load (immediate,
// scheduled and far-future bookings, cancels, reschedules, device connects) is killed with
// SIGKILL at random moments and restarted on the same store, again and again. Afterwards every
// promise of DESIGN.md's "Reliability" list is checked against what clients were told, the
// store, and the simulator's log of real dials.

import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import YAML from 'yaml';
import { mulberry32 } from '../../src/telephony/simulator/rng';
import { PROFILE, recordFigures } from './figures';
import { freePort, sleep, startServer, stopServer, type ServerProcess } from './server-process';

const KILLS = Number(process.env.CHAOS_KILLS ?? (PROFILE === 'ci' ? 20 : 40));
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const WORKERS = 4;
const MAX_DIAL_ATTEMPTS = 3;
const FAR_MS = 2 * 86_400_000;
const BUSY = '+33612000001';
const MACHINE = '+33612000002';

const protection = {
  _max_queued_callbacks_per_service: 0,
  _throttle_callbacks_per_service_1: 0,
  _throttle_callbacks_per_service_2: 0,
  _throttle_request_parameters_limit: 0,
  _reject_future_desired_time: '1w',
  _max_request_by_time_bucket: 1000,
  _request_time_bucket: 5,
  _allow_extensions: true,
  _max_dial_attempts: MAX_DIAL_ATTEMPTS,
  _dial_retry_timeout: 1,
};

const CONFIG = {
  node_id: '440',
  office_hours: { always: { _timezone: 'UTC', _bh_regular1: 'Mon-Sun 00:00-24:00' } },
  telephony: {
    kind: 'simulator',
    simulator: {
      answer_delay_ms: 300,
      amd_delay_ms: 200,
      agent_answer_delay_ms: 150,
      handle_time_ms: 600,
      numbers: { [BUSY]: 'busy', [MACHINE]: 'machine' },
    },
  },
  services: {
    now: {
      _call_direction: 'USERTERMINATED',
      _business_hours_service: 'always',
      _target: 'support',
      ...protection,
    },
    delayed: {
      _call_direction: 'USERTERMINATED',
      _wait_for_agent: true,
      _wait_for_user_confirm: true,
      _user_confirm_timeout: 2,
      _max_number_of_user_availability_confirmation_attempts: 1,
      _business_hours_service: 'always',
      _target: 'support',
      ...protection,
    },
  },
  agents: Array.from({ length: 20 }, (_, i) => ({
    id: `agent${i + 1}`,
    endpoint: `SIM/agent${i + 1}`,
    groups: ['support'],
    state: 'ready',
  })),
  engine: { idle_ms: 5000 },
};

type Kind = 'now' | 'delayed' | 'scheduled' | 'far';

interface Acked {
  id: string;
  service: string;
  kind: Kind;
  ackAt: number;
}

interface Ledger {
  acked: Map<string, Acked>;
  cancels: Array<{ id: string; sentAt: number; ackAt: number }>;
  /** Per id: the last reschedule sent, and the last one acknowledged with its time. */
  reschedules: Map<string, { lastSent: number; lastAcked: number; desired: number }>;
  requests: number;
  refused: number;
  status: Map<number, number>;
  inFlightWrites: number;
}

function countStatus(l: Ledger, status: number): void {
  l.status.set(status, (l.status.get(status) ?? 0) + 1);
}

async function call(
  base: string,
  method: string,
  url: string,
  body?: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, {
    method,
    ...(body
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : {}),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Non-JSON bodies are judged by status alone.
  }
  return { status: res.status, json };
}

/** One client loop: picks an operation, sends it, records what the server acknowledged. */
async function worker(
  base: string,
  ledger: Ledger,
  rng: () => number,
  running: () => boolean,
): Promise<void> {
  const ids = (): Acked[] => [...ledger.acked.values()];
  const pick = <T>(xs: T[]): T | undefined =>
    xs.length ? xs[Math.floor(rng() * xs.length)] : undefined;
  let seq = 0;
  while (running()) {
    const r = rng();
    ledger.requests++;
    const sentAt = Date.now();
    try {
      if (r < 0.65) {
        let kind: Kind = 'now';
        if (r < 0.2) kind = 'delayed';
        else if (r < 0.35) kind = 'scheduled';
        else if (r < 0.4) kind = 'far';
        const service =
          kind === 'delayed' || (kind === 'scheduled' && rng() < 0.3) ? 'delayed' : 'now';
        const q = rng();
        const number =
          q < 0.1
            ? BUSY
            : q < 0.2
              ? MACHINE
              : q < 0.3
                ? '5115'
                : `+336${String(Math.floor(rng() * 1e8)).padStart(8, '0')}`;
        const fields: Record<string, string> = { _customer_number: number, n: String(seq++) };
        if (kind === 'scheduled')
          fields._desired_time = new Date(Date.now() + 1500 + rng() * 4500).toISOString();
        if (kind === 'far')
          fields._desired_time = new Date(Date.now() + FAR_MS + rng() * 86_400_000).toISOString();
        ledger.inFlightWrites++;
        const res = await call(
          base,
          'POST',
          `/genesys/1/service/callback/${service}`,
          fields,
        ).finally(() => ledger.inFlightWrites--);
        countStatus(ledger, res.status);
        if (res.status === 200) {
          const id = String(res.json._id);
          ledger.acked.set(id, { id, service, kind, ackAt: Date.now() });
        }
      } else if (r < 0.77) {
        const a = pick(ids().filter((x) => x.kind !== 'delayed'));
        if (!a) continue;
        ledger.inFlightWrites++;
        const res = await call(
          base,
          'DELETE',
          `/genesys/1/service/callback/${a.service}/${a.id}`,
        ).finally(() => ledger.inFlightWrites--);
        countStatus(ledger, res.status);
        if (res.status === 200) ledger.cancels.push({ id: a.id, sentAt, ackAt: Date.now() });
      } else if (r < 0.85) {
        const a = pick(ids().filter((x) => x.kind === 'scheduled' || x.kind === 'far'));
        if (!a) continue;
        const desired = Math.floor(Date.now() + (rng() < 0.7 ? 1500 + rng() * 4500 : FAR_MS));
        const rec = ledger.reschedules.get(a.id) ?? { lastSent: 0, lastAcked: 0, desired: 0 };
        const mine = ++rec.lastSent;
        ledger.reschedules.set(a.id, rec);
        ledger.inFlightWrites++;
        const res = await call(base, 'PUT', `/genesys/1/service/callback/${a.service}/${a.id}`, {
          _new_desired_time: new Date(desired).toISOString(),
        }).finally(() => ledger.inFlightWrites--);
        countStatus(ledger, res.status);
        if (res.status === 200 && rec.lastSent === mine) {
          rec.lastAcked = mine;
          rec.desired = desired;
        }
      } else {
        const a = pick(ids().filter((x) => x.service === 'delayed'));
        if (!a) continue;
        const res = await call(base, 'POST', `/genesys/1/service/${a.id}/connect`, {});
        countStatus(ledger, res.status);
      }
    } catch {
      // The server is down (killed) or the request died with it: nothing was acknowledged.
      ledger.refused++;
      await sleep(30);
    }
    await sleep(20 + rng() * 60);
  }
}

interface Row {
  id: string;
  service: string;
  gms: string;
  reason: string | null;
  desired_time: number | null;
  state: string;
}

describe('chaos: SIGKILL under load (real process)', function () {
  this.timeout(15 * 60_000);
  let dir: string;
  let current: ServerProcess | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-chaos-'));
  });
  after(async () => {
    if (current) await stopServer(current, 'SIGKILL');
    if (!process.env.CHAOS_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`      chaos data kept in ${dir}\n`);
  });

  it(`loses no acknowledged booking, dials nothing twice and resumes after ${KILLS} kills`, async () => {
    const rng = mulberry32(SEED);
    const configFile = path.join(dir, 'config.yaml');
    fs.writeFileSync(configFile, YAML.stringify(CONFIG));
    const dialLog = path.join(dir, 'dials.log');
    const spec = { port: await freePort(), configFile, dataDir: dir, dialLog };
    const base = `http://127.0.0.1:${spec.port}`;
    const ledger: Ledger = {
      acked: new Map(),
      cancels: [],
      reschedules: new Map(),
      requests: 0,
      refused: 0,
      status: new Map(),
      inFlightWrites: 0,
    };
    let loadOn = true;
    const workers = Array.from({ length: WORKERS }, (_, i) =>
      worker(base, ledger, mulberry32(SEED + i + 1), () => loadOn),
    );

    const readyTimes: number[] = [];
    const phasesAtKill = new Map<string, number>();
    let killsWithWriteInFlight = 0;
    const killsIn = { dialling: 0, bridging: 0, talking: 0, waitingConfirm: 0 };
    const t0 = Date.now();
    try {
      for (let k = 0; k < KILLS; k++) {
        current = await startServer(spec);
        readyTimes.push(current.readyMs);
        await sleep(200 + rng() * 2800);
        if (ledger.inFlightWrites > 0) killsWithWriteInFlight++;
        await stopServer(current, 'SIGKILL');
        current = undefined;
        // What the store held at the moment of the kill: proves the kills hit live calls.
        const db = new Database(path.join(dir, 'dialback.db'), { readonly: true });
        try {
          const phases = new Set<string>();
          for (const r of db
            .prepare("SELECT state FROM callbacks WHERE gms <> 'COMPLETED'")
            .all() as Array<{ state: string }>)
            phases.add((JSON.parse(r.state) as { phase: string }).phase);
          for (const p of phases) phasesAtKill.set(p, (phasesAtKill.get(p) ?? 0) + 1);
          if (phases.has('dialling-customer') || phases.has('dialling-agent')) killsIn.dialling++;
          if (phases.has('bridging')) killsIn.bridging++;
          if (phases.has('talking')) killsIn.talking++;
          if (phases.has('waiting-confirm')) killsIn.waitingConfirm++;
        } finally {
          db.close();
        }
      }
      // The last process runs on: load stops, every near session must finish.
      current = await startServer(spec);
      readyTimes.push(current.readyMs);
      await sleep(1000);
      loadOn = false;
      await Promise.all(workers);

      const db = new Database(path.join(dir, 'dialback.db'), { readonly: true });
      const rows = (): Row[] =>
        db
          .prepare('SELECT id, service, gms, reason, desired_time, state FROM callbacks')
          .all() as Row[];
      const isFar = (r: Row) => r.desired_time !== null && r.desired_time > Date.now() + 3600_000;
      const drainStart = Date.now();
      const deadline = drainStart + 120_000;
      let stuck: Row[] = [];
      for (;;) {
        stuck = rows().filter((r) => r.gms !== 'COMPLETED' && !isFar(r));
        if (stuck.length === 0 || Date.now() > deadline) break;
        await sleep(250);
      }
      const drainMs = Date.now() - drainStart;
      const all = new Map(rows().map((r) => [r.id, r]));
      const dialRows = db.prepare('SELECT call_id, callback_id, at FROM dials').all() as Array<{
        call_id: string;
        callback_id: string;
        at: number;
      }>;
      // Customer lines cut by a kill are dialled again as new attempts (README, "Choices"):
      // count the callbacks whose every failed attempt was such a line.
      const lostOnly = (
        db
          .prepare(
            "SELECT c.id, group_concat(json_extract(e.event, '$.failure')) AS f FROM callbacks c " +
              "JOIN events e ON e.callback_id = c.id WHERE c.reason = 'FAIL_CALL_TO_CUSTOMER' " +
              "AND json_extract(e.event, '$.type') = 'call.failed' GROUP BY c.id",
          )
          .all() as Array<{ id: string; f: string }>
      ).filter((r) => r.f.split(',').every((x) => x === 'lost')).length;
      db.close();
      await stopServer(current, 'SIGTERM');
      current = undefined;

      // ---- invariants -----------------------------------------------------------------------
      const lost = [...ledger.acked.keys()].filter((id) => !all.has(id));
      const dials = fs.existsSync(dialLog)
        ? fs.readFileSync(dialLog, 'utf8').split('\n').filter(Boolean)
        : [];
      const seen = new Set<string>();
      const doubles: string[] = [];
      for (const d of dials) {
        if (seen.has(d)) doubles.push(d);
        seen.add(d);
      }
      const recorded = new Set(dialRows.map((d) => d.call_id));
      const unrecorded = dials.filter((d) => !recorded.has(d));
      const perCallback = new Map<string, number>();
      for (const d of dials) {
        const m = /^(.+)-c\d+$/.exec(d);
        if (m) perCallback.set(m[1], (perCallback.get(m[1]) ?? 0) + 1);
      }
      const overDialled = [...perCallback].filter(([, n]) => n > MAX_DIAL_ATTEMPTS);
      const cancelAck = new Map<string, number>();
      for (const c of ledger.cancels)
        cancelAck.set(c.id, Math.min(cancelAck.get(c.id) ?? Infinity, c.ackAt));
      const cancelledThenDialled = dialRows.filter((d) => {
        const ack = cancelAck.get(d.callback_id);
        return ack !== undefined && d.at > ack;
      });
      const cancelNotKept = [...cancelAck.keys()].filter((id) => {
        const r = all.get(id);
        return !r || r.gms !== 'COMPLETED' || r.reason !== 'CANCELLED';
      });
      const rescheduleNotKept = [...ledger.reschedules].filter(([id, r]) => {
        if (r.lastAcked === 0 || r.lastAcked !== r.lastSent) return false;
        if (cancelAck.has(id)) return false;
        return all.get(id)?.desired_time !== r.desired;
      });
      const far = [...all.values()].filter((r) => isFar(r) && r.gms !== 'COMPLETED').length;
      const reasons: Record<string, number> = {};
      for (const r of all.values()) {
        const key = r.gms === 'COMPLETED' ? String(r.reason) : r.gms;
        reasons[key] = (reasons[key] ?? 0) + 1;
      }
      const sorted = [...readyTimes].sort((a, b) => a - b);
      const figures = {
        profile: PROFILE,
        seed: SEED,
        kills: KILLS,
        runSeconds: Math.round((Date.now() - t0) / 1000),
        requests: ledger.requests,
        refusedWhileDown: ledger.refused,
        statuses: Object.fromEntries([...ledger.status].sort((a, b) => a[0] - b[0])),
        bookings: ledger.acked.size,
        bookingsInStore: all.size,
        cancelsAcked: ledger.cancels.length,
        reschedulesAcked: [...ledger.reschedules.values()].filter((r) => r.lastAcked > 0).length,
        lost: lost.length,
        doubleDials: doubles.length,
        dialsPlaced: dials.length,
        dialsNotRecordedFirst: unrecorded.length,
        overMaxDialAttempts: overDialled.length,
        maxDialsOfOneCallback: Math.max(0, ...perCallback.values()),
        cancelledThenDialled: cancelledThenDialled.length,
        cancelsNotKept: cancelNotKept.length,
        reschedulesNotKept: rescheduleNotKept.length,
        stuckSessions: stuck.length,
        farFutureStillScheduled: far,
        finalDrainMs: drainMs,
        killsWithWriteInFlight,
        killsWithSessions: killsIn,
        phasesAtKill: Object.fromEntries(phasesAtKill),
        outcomes: reasons,
        failedOnlyByLinesCutByKills: lostOnly,
        resumeMs: {
          min: sorted[0],
          median: sorted[Math.floor(sorted.length / 2)],
          p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))],
          max: sorted[sorted.length - 1],
        },
      };
      recordFigures('crash', figures);

      assert.ok(ledger.acked.size >= 100, `enough load: ${ledger.acked.size} bookings`);
      assert.deepEqual(lost, [], 'every acknowledged booking is in the store');
      assert.deepEqual(doubles, [], 'no call id dialled twice');
      assert.deepEqual(unrecorded, [], 'every dial was recorded in the store before it was placed');
      assert.deepEqual(overDialled, [], `no callback dialled more than ${MAX_DIAL_ATTEMPTS} times`);
      assert.deepEqual(
        cancelledThenDialled,
        [],
        'nothing dialled after its cancel was acknowledged',
      );
      assert.deepEqual(cancelNotKept, [], 'every acknowledged cancel is final');
      assert.deepEqual(rescheduleNotKept, [], 'every acknowledged reschedule is kept');
      assert.deepEqual(
        stuck.map((r) => ({
          id: r.id,
          gms: r.gms,
          phase: (JSON.parse(r.state) as { phase: string }).phase,
        })),
        [],
        'every near session reached a final state',
      );
      assert.ok(killsIn.dialling > 0, 'some kills landed while a call was being dialled');
    } finally {
      loadOn = false;
      await Promise.all(workers);
    }
  });
});
