// The lab benchmark: N concurrent callbacks (20 by default) end to end through the real
// Asterisk of `npm run lab:up`. The real service runs as it is deployed, in its own
// `dialback start` process (SQLite, engine, HTTP on loopback, ARI application `dialback-lab`),
// so that the benchmark's own work (booking, watching every callback over HTTP, following
// Asterisk's events) does not share its event loop; `--in-process` runs it inside the
// benchmark's process instead, as the runs in BENCHMARKS.md before 19:30 UTC on 2026-11-24
// did. N human customers (`lab-customer-*`, one baresip each) are booked evenly over --spread
// ms on a Not Delayed service, dialled, judged HUMAN by AMD, given an agent (`lab-agent-*`),
// bridged, and completed when the agent hangs up after --talk ms. With the defaults every call
// is still up when the last one is bridged (the run reports the peak of calls up and of bridges
// at once); --spread 0 books all of them in the same millisecond, so that 20 AMD verdicts land
// together. Reports lost bookings, double dials and the time from the HUMAN verdict to both legs
// in the bridge (Asterisk's clock, as test/lab/e2e measures it; target median ≤ 50 ms). That
// time includes the agent's phone ringing and Asterisk's own work, so the engine's time is
// measured too, from the service's debug log (the ARI adapter's trace of calls): HUMAN heard →
// agent dial sent, plus agent answer heard → bridge join sent. The service process runs the
// build when it is fresh (`npm run build`).
//   npx tsx bench/lab.ts [--calls 20] [--agents 20] [--talk 5000] [--spread 2000] [--in-process]

import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {
  AriObserver,
  AriRest,
  CallbackWatch,
  GmsClient,
  LAB_SERVICE,
  e2eRawConfig,
  labPhones,
  labRawConfig,
  startE2eService,
  verdictToBridgeMs,
} from '../test/lab/e2e-helpers';
import { labStateFile, numberOf, requireLab, type LabState } from '../test/lab/lab-state';
import {
  ROOT,
  flags,
  median,
  numFlag,
  percentile,
  printTable,
  round,
  serviceCode,
  sleep,
  tempDir,
  writeResult,
  startDialback,
  SchedSampler,
  type DialbackChild,
} from './lib/common';

/** The service under test: its URL, the pid whose CPU and memory count as the service's. */
interface Service {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/**
 * What the ARI adapter logs at debug level about a callback's calls (see traceCalls there): when
 * the engine heard each event, and when it sent the agent dial and the bridge join.
 */
class EngineTrace {
  /** `call.answered` heard, by call id. */
  readonly answered = new Map<string, { at: number; amd?: string }>();
  /** Agent leg originate sent, by call id. */
  readonly agentDialSent = new Map<string, number>();
  /** Last bridge join sent, by bridge id. */
  readonly bridgeJoinSent = new Map<string, number>();

  line(text: string): void {
    if (!text.startsWith('{') || !text.includes('"adapter":"ari"')) return;
    let j: {
      msg?: string;
      time?: number;
      callId?: string;
      bridgeId?: string;
      event?: { type?: string; callId?: string; amd?: string };
    };
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      return;
    }
    if (typeof j.time !== 'number') return;
    if (j.msg === 'telephony event' && j.event?.type === 'call.answered' && j.event.callId) {
      if (!this.answered.has(j.event.callId))
        this.answered.set(j.event.callId, { at: j.time, amd: j.event.amd });
    } else if (j.msg === 'originating the agent leg' && j.callId) {
      this.agentDialSent.set(j.callId, j.time);
    } else if (j.msg === 'adding legs to the bridge' && j.bridgeId) {
      this.bridgeJoinSent.set(j.bridgeId, j.time);
    }
  }

  /**
   * The engine's own part of HUMAN→bridge: from hearing the HUMAN verdict to sending the agent
   * dial, plus from hearing the agent answer to sending the bridge join. Left out: the agent's
   * phone ringing, and Asterisk's time to deliver events and carry out commands.
   */
  engineMs(
    callbackId: string,
    customerLeg: string,
    agentLeg: string,
  ): { toAgentDial: number; toBridgeJoin: number; heardAt: number; joinAt: number } | undefined {
    const verdict = this.answered.get(customerLeg);
    const dial = this.agentDialSent.get(agentLeg);
    const agentUp = this.answered.get(agentLeg);
    const join = this.bridgeJoinSent.get(`${callbackId}-b`);
    if (verdict?.amd !== 'HUMAN' || dial === undefined || agentUp === undefined) return undefined;
    if (join === undefined) return undefined;
    return {
      toAgentDial: dial - verdict.at,
      toBridgeJoin: join - agentUp.at,
      heardAt: verdict.at,
      joinAt: join,
    };
  }
}

/** `dialback start` in a process of its own, on the lab config of the in-process run. */
async function serviceProcess(
  lab: LabState,
  agents: string[],
  trace: EngineTrace,
): Promise<Service> {
  const dataDir = tempDir('lab');
  const configFile = path.join(dataDir, 'config.yaml');
  const raw = labRawConfig(agents)(e2eRawConfig(lab, dataDir)) as {
    telephony: { ari: Record<string, unknown> };
  };
  // The ARI adapter alone logs at debug level: its trace of calls, a few lines per call. The
  // rest of the service logs at warn, as in the other benchmarks.
  raw.telephony.ari.log_level = 'debug';
  fs.writeFileSync(configFile, YAML.stringify(raw));
  let svc: DialbackChild;
  try {
    svc = await startDialback({ configFile, dataDir, onLogLine: (l) => trace.line(l) });
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: svc.url,
    pid: svc.pid,
    close: async () => {
      const code = await svc.stop('SIGTERM');
      if (code !== 0) process.stderr.write(`the service exited with ${code}:\n${svc.output()}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The service inside this process (`--in-process`). */
async function serviceInProcess(lab: LabState, agents: string[]): Promise<Service> {
  const e2e = await startE2eService(lab, labRawConfig(agents));
  return { url: e2e.url, pid: process.pid, close: () => e2e.close() };
}

interface Outcome {
  id: string;
  customer: string;
  state?: string;
  reason?: string;
  dialAttempts?: number;
  humanToBridgeMs?: number;
  createToProcessingMs?: number;
  amdMs?: number;
  /** HUMAN→bridge without the agent's phone and Asterisk's work (service's own process only). */
  engineMs?: number;
  /** Its two parts: HUMAN heard → agent dial sent, agent answer heard → bridge join sent. */
  engineToAgentDialMs?: number;
  engineToBridgeJoinMs?: number;
  /** The HUMAN→bridge time in three parts (Asterisk's clock). */
  verdictToAgentCreatedMs?: number;
  agentCreatedToUpMs?: number;
  agentUpToBridgedMs?: number;
  error?: string;
}

// ---- CPU and memory of the lab's processes, from /proc ----------------------------------------

const TICK_S = 0.01; // USER_HZ is 100 on Linux

function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat's first line). */
function machineTicks(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const n = f.map(Number);
  const idle = n[3] + n[4];
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

interface ProcGroups {
  asterisk: number[];
  baresip: number[];
  /** The service's process (this one with --in-process). */
  service: number[];
  /** This benchmark's process when the service has its own (else empty). */
  bench: number[];
}

function labProcesses(used: Set<string>, servicePid: number): ProcGroups {
  const s = JSON.parse(fs.readFileSync(labStateFile(), 'utf8')) as {
    processes: Array<{ name: string; pid: number }>;
  };
  return {
    asterisk: s.processes.filter((p) => p.name === 'asterisk').map((p) => p.pid),
    baresip: s.processes.filter((p) => used.has(p.name)).map((p) => p.pid),
    service: [servicePid],
    bench: servicePid === process.pid ? [] : [process.pid],
  };
}

function sampleCpu(g: ProcGroups): Record<keyof ProcGroups, number> & { at: number } {
  const sum = (pids: number[]): number => pids.reduce((a, p) => a + cpuTicks(p), 0);
  return {
    asterisk: sum(g.asterisk),
    baresip: sum(g.baresip),
    service: sum(g.service),
    bench: sum(g.bench),
    at: performance.now(),
  };
}

// ---- the run --------------------------------------------------------------------------------------

/** Peak number of the run's customer legs alive at once, from creation to destruction. */
function peakCalls(observer: AriObserver, ids: Set<string>): number {
  let now = 0;
  let peak = 0;
  for (const e of observer.events) {
    const c = e.channel?.id;
    if (!c || !/-c\d+$/.test(c) || !ids.has(c.replace(/-c\d+$/, ''))) continue;
    if (e.type === 'ChannelCreated') now++;
    else if (e.type === 'ChannelDestroyed') now--;
    peak = Math.max(peak, now);
  }
  return peak;
}

/** Peak number of the run's bridges holding two channels at once (from the observer's events). */
function peakBridged(observer: AriObserver, ids: Set<string>): number {
  const members = new Map<string, number>();
  let now = 0;
  let peak = 0;
  for (const e of observer.events) {
    const b = e.bridge?.id;
    if (!b || !ids.has(b.replace(/-b$/, ''))) continue;
    if (e.type !== 'ChannelEnteredBridge' && e.type !== 'ChannelLeftBridge') continue;
    const before = members.get(b) ?? 0;
    const after = Math.max(0, before + (e.type === 'ChannelEnteredBridge' ? 1 : -1));
    members.set(b, after);
    if (before < 2 && after >= 2) now++;
    if (before >= 2 && after < 2) now--;
    peak = Math.max(peak, now);
  }
  return peak;
}

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const calls = numFlag(f, 'calls', 20);
  const agentCount = numFlag(f, 'agents', 20);
  const talkMs = numFlag(f, 'talk', 5000);
  const spreadMs = numFlag(f, 'spread', 2000);
  const inProcess = f.has('in-process');
  const lab = await requireLab();
  const customers = labPhones(lab, 'lab-customer-').slice(0, calls);
  const agents = labPhones(lab, 'lab-agent-').slice(0, agentCount);
  if (customers.length < calls || agents.length < agentCount)
    throw new Error(
      `the lab has ${customers.length} lab-customer-* and ${agents.length} lab-agent-* phones; ` +
        `--calls ${calls} --agents ${agentCount} needs more rows in docker/softphones/phones.tsv`,
    );

  const ari = new AriRest(lab);
  const observer = new AriObserver(lab);
  const trace = new EngineTrace();
  let sched: SchedSampler | undefined;
  await observer.open();
  let e2e: Service | undefined;
  const watches: CallbackWatch[] = [];
  const ids = new Set<string>();
  try {
    e2e = inProcess
      ? await serviceInProcess(lab, agents)
      : await serviceProcess(lab, agents, trace);
    const gms = new GmsClient(e2e.url);
    if ((await gms.readyz()) !== 200) throw new Error('the service is not ready on the lab');
    const procs = labProcesses(new Set([...customers, ...agents]), e2e.pid);
    const cpu0 = sampleCpu(procs);
    sched = new SchedSampler(e2e.pid);
    const m0 = machineTicks();

    // Bookings evenly spread over --spread ms (0: all at the same moment).
    const t0 = Date.now();
    const created = await Promise.allSettled(
      customers.map(async (c, i) => {
        await sleep(t0 + (spreadMs * i) / customers.length - Date.now());
        return gms.create(LAB_SERVICE, { _customer_number: numberOf(lab, c) });
      }),
    );
    const bookMs = Date.now() - t0;
    const outcomes: Outcome[] = [];
    const refused: string[] = [];
    created.forEach((r, i) => {
      if (r.status === 'rejected') {
        refused.push(`${customers[i]}: ${String(r.reason)}`);
        return;
      }
      ids.add(r.value);
      outcomes.push({ id: r.value, customer: customers[i] });
      watches.push(new CallbackWatch(gms, r.value, t0));
    });

    // Each call: bridged → talk → the agent hangs up → COMPLETED.
    await Promise.all(
      watches.map(async (w, i) => {
        const o = outcomes[i];
        try {
          const processing = await w.waitState('PROCESSING', 90_000);
          o.createToProcessingMs = processing.at - w.createdAt;
          await sleep(talkMs);
          const b = await ari.request('GET', `/bridges/${encodeURIComponent(`${w.id}-b`)}`);
          const members = (b.body as { channels?: string[] } | undefined)?.channels ?? [];
          const agentLeg = members.find((c) => c.startsWith(`${w.id}-a`));
          if (!agentLeg) throw new Error(`no agent leg in bridge ${w.id}-b (HTTP ${b.status})`);
          await ari.hangup(agentLeg);
          const done = await w.waitState('COMPLETED', 30_000);
          o.state = 'COMPLETED';
          o.reason = String(done.data._callback_reason);
        } catch (err) {
          o.error = (err as Error).message;
        }
      }),
    );
    const wallMs = Date.now() - t0;
    const cpu1 = sampleCpu(procs);
    const m1 = machineTicks();
    const rss = {
      asteriskMiB: round(
        procs.asterisk.reduce((a, p) => a + rssMiB(p), 0),
        1,
      ),
      baresipMiB: round(
        procs.baresip.reduce((a, p) => a + rssMiB(p), 0),
        1,
      ),
      serviceMiB: round(rssMiB(e2e.pid), 1),
    };
    // Late events (the customers' ChannelDestroyed) before the counts.
    await observer.quiet(1000, 10_000);

    let firstHeard = Infinity;
    let lastJoin = -Infinity;
    for (const o of outcomes) {
      const view = await gms.find(o.id).catch(() => undefined);
      if (view) {
        o.state = String(view._callback_state);
        o.reason = view._callback_reason ? String(view._callback_reason) : undefined;
        o.dialAttempts = Number(view._dial_attempts);
      }
      const customerLegs = observer.channelsCreated(`${o.id}-c`).sort();
      const last = customerLegs[customerLegs.length - 1];
      o.humanToBridgeMs = last ? verdictToBridgeMs(observer, o.id, last) : undefined;
      const createdAt = observer.first(
        (e) => e.type === 'ChannelCreated' && e.channel?.id === last,
      )?.at;
      const verdict = observer.first(
        (e) => e.type === 'ChannelVarset' && e.channel?.id === last && e.variable === 'AMDSTATUS',
      );
      if (createdAt !== undefined && verdict) o.amdMs = verdict.at - createdAt;
      const agentLeg = observer.channelsCreated(`${o.id}-a`).sort().pop();
      const agentCreated = observer.first(
        (e) => e.type === 'ChannelCreated' && e.channel?.id === agentLeg,
      )?.at;
      const agentUp = observer.first(
        (e) =>
          e.type === 'ChannelStateChange' &&
          e.channel?.id === agentLeg &&
          e.channel?.state === 'Up',
      )?.at;
      const entered = observer.events
        .filter((e) => e.type === 'ChannelEnteredBridge' && e.bridge?.id === `${o.id}-b`)
        .map((e) => e.at);
      if (verdict && agentCreated !== undefined)
        o.verdictToAgentCreatedMs = agentCreated - verdict.at;
      if (agentCreated !== undefined && agentUp !== undefined)
        o.agentCreatedToUpMs = agentUp - agentCreated;
      if (agentUp !== undefined && entered.length >= 2)
        o.agentUpToBridgedMs = Math.max(...entered) - agentUp;
      const engine = last && agentLeg ? trace.engineMs(o.id, last, agentLeg) : undefined;
      if (engine) {
        firstHeard = Math.min(firstHeard, engine.heardAt);
        lastJoin = Math.max(lastJoin, engine.joinAt);
        o.engineToAgentDialMs = engine.toAgentDial;
        o.engineToBridgeJoinMs = engine.toBridgeJoin;
        o.engineMs = engine.toAgentDial + engine.toBridgeJoin;
      }
    }
    // A call id placed twice shows as two ChannelCreated for one channel id.
    const createdCount = new Map<string, number>();
    for (const e of observer.events)
      if (
        e.type === 'ChannelCreated' &&
        e.channel &&
        [...ids].some((id) => e.channel?.id.startsWith(id))
      )
        createdCount.set(e.channel.id, (createdCount.get(e.channel.id) ?? 0) + 1);
    const doubleDials = [...createdCount.values()].filter((n) => n > 1).length;
    const customerDials = [...createdCount.keys()].filter((c) => /-c\d+$/.test(c)).length;
    const agentDials = [...createdCount.keys()].filter((c) => /-a\d+$/.test(c)).length;
    const agentsUsed = new Set(
      [...createdCount.keys()]
        .filter((c) => /-a\d+$/.test(c))
        .map((c) => /^PJSIP\/(.+)-[0-9a-f]+$/.exec(observer.channelName(c) ?? '')?.[1]),
    ).size;
    const leftInAsterisk = (await ari.channelIds()).filter((c) =>
      [...ids].some((id) => c.startsWith(id)),
    );

    const final = outcomes.filter((o) => o.state === 'COMPLETED');
    const connected = final.filter((o) => o.reason === 'AGENT_CONNECTED').length;
    const h2b = outcomes.map((o) => o.humanToBridgeMs).filter((x): x is number => x !== undefined);
    const c2p = outcomes
      .map((o) => o.createToProcessingMs)
      .filter((x): x is number => x !== undefined);
    const amd = outcomes.map((o) => o.amdMs).filter((x): x is number => x !== undefined);
    const engine = outcomes.map((o) => o.engineMs).filter((x): x is number => x !== undefined);
    const wallS = (cpu1.at - cpu0.at) / 1000;
    const pctOfCore = (ticks: number): number => round((100 * ticks * TICK_S) / wallS, 1);
    const cpu = {
      windowS: round(wallS, 1),
      asteriskPctOfCore: pctOfCore(cpu1.asterisk - cpu0.asterisk),
      baresipPctOfCore: pctOfCore(cpu1.baresip - cpu0.baresip),
      servicePctOfCore: pctOfCore(cpu1.service - cpu0.service),
      benchPctOfCore: pctOfCore(cpu1.bench - cpu0.bench),
      machineBusyPct: round((100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total), 1),
      baresipProcesses: procs.baresip.length,
    };
    const peak = peakCalls(observer, ids);
    sched?.stop();
    // The service's event loop from the first HUMAN heard to the last bridge join sent: how long
    // it ran, and how long it was ready to run but waited for one of the machine's CPUs.
    const serviceLoop =
      sched && Number.isFinite(firstHeard) && Number.isFinite(lastJoin)
        ? sched.between(firstHeard, lastJoin)
        : null;
    const result = {
      settings: {
        calls,
        agents: agentCount,
        talkMs,
        spreadMs,
        service: LAB_SERVICE,
        serviceRuns: inProcess ? 'in the benchmark process' : 'own process',
        code: inProcess ? 'src' : serviceCode(),
      },
      bookings: ids.size,
      refused: refused.length,
      bookAllMs: bookMs,
      completed: final.length,
      agentConnected: connected,
      lost: ids.size - final.length,
      doubleDials,
      customerDials,
      agentDials,
      agentsUsed,
      peakCalls: peak,
      peakBridged: peakBridged(observer, ids),
      humanToBridgeMs: {
        n: h2b.length,
        median: round(median(h2b), 1),
        p95: round(percentile(h2b, 95), 1),
        max: h2b.length ? Math.max(...h2b) : NaN,
      },
      // The engine's own part of it (not measured with --in-process).
      engineMs: inProcess
        ? null
        : {
            n: engine.length,
            median: round(median(engine), 1),
            p95: round(percentile(engine, 95), 1),
            max: engine.length ? Math.max(...engine) : NaN,
          },
      createToProcessingMs: {
        median: round(median(c2p), 0),
        p95: round(percentile(c2p, 95), 0),
        max: c2p.length ? Math.max(...c2p) : NaN,
      },
      amdMs: { median: round(median(amd), 0), max: amd.length ? Math.max(...amd) : NaN },
      humanToBridgeParts: Object.fromEntries(
        (
          [
            'verdictToAgentCreatedMs',
            'agentCreatedToUpMs',
            'agentUpToBridgedMs',
            ...(inProcess ? [] : (['engineToAgentDialMs', 'engineToBridgeJoinMs'] as const)),
          ] as const
        ).map((k) => {
          const xs = outcomes.map((o) => o[k]).filter((x): x is number => x !== undefined);
          return [k, { median: round(median(xs), 1), p95: round(percentile(xs, 95), 1) }];
        }),
      ),
      wallMs,
      leftInAsterisk: leftInAsterisk.length,
      cpu,
      serviceLoopFromFirstHumanToLastJoin: serviceLoop,
      rss,
      errors: [...refused, ...outcomes.filter((o) => o.error).map((o) => `${o.id}: ${o.error}`)],
      targets: {
        allCallsUpAtOnce: peak === calls,
        noneLost: ids.size === calls && final.length === ids.size,
        allConnected: connected === calls,
        noDoubleDials: doubleDials === 0,
        humanToBridgeMedianLe50ms: h2b.length === calls && median(h2b) <= 50,
        engineTimeMedianLe50ms: inProcess ? null : engine.length === calls && median(engine) <= 50,
      },
    };
    printTable([
      {
        calls,
        agents: agentCount,
        booked: result.bookings,
        AGENT_CONNECTED: connected,
        lost: result.lost,
        'double dials': doubleDials,
        'spread ms': spreadMs,
        'peak calls': result.peakCalls,
        'peak bridged': result.peakBridged,
        'HUMAN→bridge p50 ms': result.humanToBridgeMs.median,
        'p95 ms': result.humanToBridgeMs.p95,
        'max ms': result.humanToBridgeMs.max,
        ...(result.engineMs
          ? { 'engine p50 ms': result.engineMs.median, 'engine p95 ms': result.engineMs.p95 }
          : {}),
        'create→PROCESSING p50 ms': result.createToProcessingMs.median,
        'AMD p50 ms': result.amdMs.median,
        'wall s': round(wallMs / 1000, 1),
      },
    ]);
    printTable([
      {
        'asterisk %core': cpu.asteriskPctOfCore,
        [`baresip×${cpu.baresipProcesses} %core`]: cpu.baresipPctOfCore,
        'service %core': cpu.servicePctOfCore,
        ...(inProcess ? {} : { 'bench %core': cpu.benchPctOfCore }),
        'machine busy %': cpu.machineBusyPct,
        'asterisk MiB': rss.asteriskMiB,
        'baresip MiB': rss.baresipMiB,
        'service MiB': rss.serviceMiB,
      },
    ]);
    if (serviceLoop)
      process.stdout.write(
        `service event loop from the first HUMAN heard to the last bridge join sent ` +
          `(${serviceLoop.windowMs} ms): on a CPU ${serviceLoop.onCpuMs} ms, ` +
          `ready but waiting for a CPU ${serviceLoop.waitingMs} ms\n`,
      );
    const parts = result.humanToBridgeParts as Record<string, { median: number; p95: number }>;
    printTable(
      Object.entries(parts).map(([part, v]) => ({
        'HUMAN→bridge part': part.replace(/Ms$/, ''),
        'p50 ms': v.median,
        'p95 ms': v.p95,
      })),
    );
    for (const e of result.errors) process.stdout.write(`error: ${e}\n`);
    // The same-millisecond burst is a stress run of its own, kept beside the default one.
    const file = writeResult(spreadMs === 0 ? 'lab-burst' : 'lab', result);
    process.stdout.write(`written ${path.relative(ROOT, file)}\n`);
    return result;
  } finally {
    sched?.stop();
    for (const w of watches) await w.stop();
    if (e2e) {
      const gms = new GmsClient(e2e.url);
      for (const id of ids) {
        const v = await gms.find(id).catch(() => undefined);
        if (v && v._callback_state !== 'COMPLETED')
          await gms.cancel(String(v._service_name), id).catch(() => undefined);
      }
    }
    await ari.cleanup(ids).catch(() => undefined);
    // Closing an ARI socket while Asterisk dispatches to it has deadlocked Asterisk before
    // (asterisk/asterisk#2170): close once the lab is quiet.
    await observer.quiet(1500, 10_000);
    await e2e?.close();
    await observer.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
