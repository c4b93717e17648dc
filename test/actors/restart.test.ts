// A real engine process with about a thousand sessions in every state is killed with SIGKILL
// and restarted on the same store: nothing acknowledged is lost, every open session resumes
// and finishes, and no call id is ever dialled twice.

import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-store';
import type { Store } from '../../src/store/store';

const CHILD = path.join(__dirname, 'restart-child.ts');
const COUNT = 1000;

function startChild(
  phase: 'create' | 'resume',
  dir: string,
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', CHILD, phase, dir, String(COUNT)], {
    cwd: path.join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function waitFor(
  check: () => boolean,
  timeoutMs: number,
  what: string,
  output?: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end)
      throw new Error(`${what} not reached in ${timeoutMs} ms\n${output?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

function allRows(store: Store) {
  return store.query({ conditions: [], operand: 'AND', limit: 1_000_000 });
}

describe('restart after SIGKILL (real child process)', function () {
  this.timeout(180_000);
  let dir: string;
  const children: ChildProcess[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-restart-'));
  });
  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing, resumes every open session and never dials an attempt twice', async () => {
    const first = startChild('create', dir);
    children.push(first.child);
    await waitFor(() => first.output().includes('CREATED'), 60_000, 'bookings', first.output);
    // Let the sessions spread over every state, then kill without warning.
    await new Promise((r) => setTimeout(r, 700));
    first.child.kill('SIGKILL');
    await exited(first.child);

    const acked = fs
      .readFileSync(path.join(dir, 'acked.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [id, kind] = l.split(' ');
        return { id, kind: Number(kind) };
      });
    assert.equal(acked.length, COUNT);

    const store = openSqliteStore({ dir });
    try {
      const atKill = new Map<string, number>();
      for (const r of allRows(store))
        atKill.set(r.state.phase, (atKill.get(r.state.phase) ?? 0) + 1);
      const openPhases = [...atKill.keys()].filter((p) => p !== 'completed');
      assert.ok(
        openPhases.length >= 4,
        `sessions in several phases at the kill: ${JSON.stringify([...atKill])}`,
      );
      const dialsBefore = fs
        .readFileSync(path.join(dir, 'dials.log'), 'utf8')
        .trim()
        .split('\n').length;

      const second = startChild('resume', dir);
      children.push(second.child);
      const far = new Set(acked.filter((a) => a.kind === 5).map((a) => a.id));
      await waitFor(
        () => allRows(store).every((r) => far.has(r.id) || r.gms === 'COMPLETED'),
        90_000,
        'every near session completed',
        () =>
          second.output() +
          JSON.stringify(
            allRows(store)
              .filter((r) => !far.has(r.id) && r.gms !== 'COMPLETED')
              .slice(0, 3)
              .map((r) => ({ ...r.state, options: undefined, history: store.history(r.id) })),
          ),
      );
      second.child.kill('SIGTERM');
      await exited(second.child);

      const rows = new Map(allRows(store).map((r) => [r.id, r]));
      for (const a of acked) assert.ok(rows.has(a.id), `acknowledged booking ${a.id} is present`);
      for (const id of far) {
        const r = rows.get(id)!;
        assert.equal(r.gms, 'SCHEDULED', 'far bookings are still scheduled');
        assert.ok(r.nextWakeAt !== null && r.nextWakeAt > Date.now(), 'with their start timer');
      }
      for (const a of acked.filter((x) => x.kind === 9))
        assert.equal(rows.get(a.id)!.reason, 'FAIL_CALL_TO_CUSTOMER', 'machines end failed');
      const connected = [...rows.values()].filter((r) => r.reason === 'AGENT_CONNECTED').length;
      const reasons = new Map<string, number>();
      for (const r of rows.values())
        reasons.set(String(r.reason), (reasons.get(String(r.reason)) ?? 0) + 1);
      assert.ok(
        connected >= 600,
        `most callbacks reached an agent: ${JSON.stringify([...reasons])}`,
      );

      const dials = fs.readFileSync(path.join(dir, 'dials.log'), 'utf8').trim().split('\n');
      assert.ok(dials.length > dialsBefore, 'the resumed process dialled');
      assert.equal(new Set(dials).size, dials.length, 'no call id dialled twice');
      const perCallback = new Map<string, number>();
      for (const d of dials.filter((x) => /-c\d+$/.test(x))) {
        const id = d.replace(/-c\d+$/, '');
        perCallback.set(id, (perCallback.get(id) ?? 0) + 1);
      }
      for (const [id, n] of perCallback)
        assert.ok(n <= rows.get(id)!.state.options._max_dial_attempts, `${id} dialled ${n} times`);
    } finally {
      store.close();
    }
  });
});
