// HTTP throughput of the real service: create-callback (durable JSON creates), availability,
// and fastify's own minimal route as the ceiling of this machine, measured in the same run and
// interleaved (ceiling, create, availability per round) so that ratios share the same noise.
// The service is `node bin/dialback.js start --config bench/config.yaml` in a child process.
// Creates are loaded at several numbers of connections (10, 25 and 50 by default): each keeps one
// create in flight, so a commit can gather at most that many, and the throughput a server
// sustains within the p99 target is the most over those loads. Availability and the profiles use
// the first number.
//   npx tsx bench/http-create.ts [--runs 3] [--duration 10] [--connections 10,25,50] [--profile]

import autocannon from 'autocannon';
import path from 'node:path';
import {
  ROOT,
  flags,
  freePort,
  median,
  newestFile,
  numFlag,
  printTable,
  round,
  serviceCode,
  startChild,
  tempDir,
  timeByArea,
  topFunctions,
  waitFor200,
  writeResult,
  type Child,
  startDialback,
  mainThreadSched,
} from './lib/common';

const SERVICE = 'bench';

interface Run {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Create runs: the service's event loop during the load (see LoopTime). */
  loop?: LoopTime;
}

/**
 * The service's main thread (its event loop) during a create run: the share of the run it was on
 * a CPU, the share it was ready but waiting for one, and its CPU time per request. Near 100 % on
 * a CPU, the event loop is the limit, whatever the connections.
 */
interface LoopTime {
  onCpuPct: number;
  waitingPct: number;
  cpuUsPerRequest: number;
}

async function startCeiling(port: number): Promise<Child> {
  const src =
    "const f=require('fastify')({logger:false});f.get('/',async()=>({hello:'world'}));" +
    `f.listen({port:${port},host:'127.0.0.1'}).catch(e=>{console.error(e);process.exit(1)});`;
  const child = startChild(process.execPath, ['-e', src]);
  await waitFor200(`http://127.0.0.1:${port}/`, 10_000, child);
  return child;
}

let seq = 0;
/** A different valid French mobile number per request: no per-number limit could bite. */
function nextNumber(): string {
  seq = (seq + 1) % 100_000_000;
  return `+336${String(seq).padStart(8, '0')}`;
}

/** One load; with `servicePid`, the service's main thread is read before and after it. */
async function cannon(opts: autocannon.Options, servicePid?: number): Promise<Run> {
  const before = servicePid === undefined ? undefined : mainThreadSched(servicePid);
  const startedAt = performance.now();
  const r = await autocannon({ ...opts });
  const wallMs = performance.now() - startedAt;
  const after = servicePid === undefined ? undefined : mainThreadSched(servicePid);
  const run: Run = {
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
  if (before && after && r.requests.total > 0)
    run.loop = {
      onCpuPct: round(((after.runNs - before.runNs) / 1e6 / wallMs) * 100, 1),
      waitingPct: round(((after.waitNs - before.waitNs) / 1e6 / wallMs) * 100, 1),
      cpuUsPerRequest: round((after.runNs - before.runNs) / 1e3 / r.requests.total, 0),
    };
  return run;
}

const DAY = 86_400_000;

/**
 * `now`: the configured Not Delayed service, each create starts a session that dials at once
 * (the server keeps working on them after the load stops). `scheduled`: each create books a
 * desired time spread over the next 29 days (5-minute slots of 1000 seats), so it is a durable
 * booking and nothing else.
 */
function createOpts(
  base: string,
  duration: number,
  connections: number,
  kind: 'now' | 'scheduled',
): autocannon.Options {
  const t0 = Date.now() + 3600_000;
  return {
    url: base,
    duration,
    connections,
    pipelining: 1,
    requests: [
      {
        method: 'POST',
        path: `/genesys/1/service/callback/${SERVICE}`,
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          const body: Record<string, string> = { _customer_number: nextNumber() };
          if (kind === 'scheduled')
            body._desired_time = new Date(t0 + ((seq * 7_919_993) % (28 * DAY))).toISOString();
          return { ...req, body: JSON.stringify(body) };
        },
      },
    ],
  };
}

/**
 * `timestamp` is the GMS sample client's form; on a 24x7 office its window is the whole open
 * period around the time (8 days, 2,316 slots, 74 KB). A page showing the next two hours
 * (24 slots) is measured too: that is what a booking widget asks for.
 */
function availabilityPath(kind: 'timestamp' | 'window'): string {
  const iso = (ms: number): string => encodeURIComponent(new Date(ms).toISOString());
  const t = Date.now() + 3600_000;
  const q =
    kind === 'timestamp' ? `timestamp=${iso(t)}` : `start=${iso(t)}&end=${iso(t + 2 * 3600_000)}`;
  return `/genesys/1/service/callback/${SERVICE}/availability?${q}`;
}

function summary(runs: Run[]): Run & { runs: Run[] } {
  const loops = runs.flatMap((r) => (r.loop ? [r.loop] : []));
  return {
    reqPerSec: round(median(runs.map((r) => r.reqPerSec)), 0),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    ...(loops.length === runs.length && loops.length > 0
      ? {
          loop: {
            onCpuPct: median(loops.map((l) => l.onCpuPct)),
            waitingPct: median(loops.map((l) => l.waitingPct)),
            cpuUsPerRequest: median(loops.map((l) => l.cpuUsPerRequest)),
          },
        }
      : {}),
    runs,
  };
}

const AREAS: Record<string, RegExp> = {
  sqlite: /better-sqlite3|sqlite-store/,
  'JSON stringify/parse': / (stringify|parse)$/,
  fastify: /node_modules\/(fastify|find-my-way|avvio|@fastify|fast-json-stringify)/,
  'engine.ts': /actors\/engine\.ts/,
  'session actor': /session-actor/,
  'session machine': /session-machine/,
  nact: /node_modules\/nact/,
  'phone validation': /libphonenumber|domain\/phone/,
  'slots / office hours': /domain\/(slots|office-hours)/,
  luxon: /node_modules\/luxon/,
  simulator: /telephony\/simulator/,
  'agent pool': /agent-pool/,
  notifier: /notifier/,
  pino: /node_modules\/pino/,
  gc: /\(garbage collector\)/,
};

/**
 * Runs `load` against a fresh `dialback start` on bench/config.yaml and stops it after (SIGINT
 * lets a --cpu-prof child write its profile).
 */
async function withService<T>(
  load: (base: string, pid: number) => Promise<T>,
  opts: { nodeArgs?: string[]; stopSignal?: NodeJS.Signals } = {},
): Promise<T> {
  const svc = await startDialback({
    configFile: 'bench/config.yaml',
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
  });
  try {
    return await load(svc.url, svc.pid);
  } finally {
    await svc.stop(opts.stopSignal ?? 'SIGTERM');
  }
}

/** One fresh server with --cpu-prof under one load; prints and returns where the time goes. */
async function profileUnder(
  label: string,
  load: (base: string) => autocannon.Options,
): Promise<unknown> {
  const profDir = tempDir('prof');
  const rate = await withService(async (base) => (await cannon(load(base))).reqPerSec, {
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    stopSignal: 'SIGINT',
  });
  const file = newestFile(profDir, '.cpuprofile');
  if (!file) return { error: 'no profile written' };
  const top = topFunctions(file, 25);
  const areas = timeByArea(file, AREAS);
  process.stdout.write(
    `\nCPU profile of the server under ${label} (${round(rate, 0)} req/s with the profiler on; ${file}):\n`,
  );
  printTable(
    top.slice(0, 15).map((t) => ({ 'self %': t.selfPct, function: t.fn, where: t.where })),
  );
  process.stdout.write('inclusive share by area:\n');
  printTable(
    Object.entries(areas)
      .sort((x, y) => y[1] - x[1])
      .map(([area, pct]) => ({ area, 'inclusive %': pct })),
  );
  return { file, reqPerSecProfiled: round(rate, 0), top, areas };
}

/** `--connections 10,25,50`: positive integers, the first also used for availability. */
function connectionList(f: Map<string, string>): number[] {
  const raw = f.get('connections') ?? '10,25,50';
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--connections must be positive integers separated by commas, got ${raw}`);
  return list;
}

const P99_TARGET_MS = 20;

interface AtConnections {
  connections: number;
  create: ReturnType<typeof summary>;
  createScheduled: ReturnType<typeof summary>;
  fastifyCeiling: ReturnType<typeof summary>;
  ratios: { createVsCeiling: number; createScheduledVsCeiling: number };
}

/**
 * The most creates per second among the loads whose p99 stayed within the target: how much a
 * server sustains at that latency. Each closed-loop connection has one create in flight, so a
 * commit holds at most as many creates as there are connections.
 */
function bestWithinP99(
  levels: AtConnections[],
  kind: 'create' | 'createScheduled',
): { connections: number; reqPerSec: number; p99: number } | null {
  let best: { connections: number; reqPerSec: number; p99: number } | null = null;
  for (const l of levels) {
    const r = l[kind];
    if (r.p99 <= P99_TARGET_MS && (!best || r.reqPerSec > best.reqPerSec))
      best = { connections: l.connections, reqPerSec: r.reqPerSec, p99: r.p99 };
  }
  return best;
}

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const runs = numFlag(f, 'runs', 3);
  const duration = numFlag(f, 'duration', 10);
  const levels = connectionList(f);
  const connections = levels[0];

  const ceilPort = await freePort();
  const ceil = await startCeiling(ceilPort);
  const create = levels.map((): Run[] => []);
  const createSched = levels.map((): Run[] => []);
  const ceiling = levels.map((): Run[] => []);
  const avail: Run[] = [];
  const availTs: Run[] = [];
  try {
    await cannon({ url: `http://127.0.0.1:${ceilPort}/`, duration: 2, connections });
    for (let i = 0; i < runs; i++) {
      for (const [k, conns] of levels.entries()) {
        ceiling[k].push(
          await cannon({ url: `http://127.0.0.1:${ceilPort}/`, duration, connections: conns }),
        );

        // A fresh server per load: sessions started by one load would still be working in the
        // next, and bookings of one would make the next one's tables bigger.
        await withService(async (base, pid) => {
          await cannon(createOpts(base, 2, conns, 'scheduled'));
          createSched[k].push(await cannon(createOpts(base, duration, conns, 'scheduled'), pid));
          if (k > 0) return;
          await cannon({ url: `${base}${availabilityPath('window')}`, duration: 1, connections });
          avail.push(
            await cannon({ url: `${base}${availabilityPath('window')}`, duration, connections }),
          );
          availTs.push(
            await cannon({ url: `${base}${availabilityPath('timestamp')}`, duration, connections }),
          );
        });
        await withService(async (base, pid) => {
          await cannon(createOpts(base, 1, conns, 'now'));
          create[k].push(await cannon(createOpts(base, duration, conns, 'now'), pid));
        });
        const c = create[k][i];
        const cs = createSched[k][i];
        process.stdout.write(
          `run ${i + 1}/${runs}, ${conns} connections: ceiling ${round(ceiling[k][i].reqPerSec, 0)} req/s, ` +
            `create now ${round(c.reqPerSec, 0)} req/s (p99 ${c.p99} ms), ` +
            `create scheduled ${round(cs.reqPerSec, 0)} req/s (p99 ${cs.p99} ms)` +
            (k === 0
              ? `, availability 2 h ${round(avail[i].reqPerSec, 0)} req/s, ` +
                `availability timestamp ${round(availTs[i].reqPerSec, 0)} req/s`
              : '') +
            '\n',
        );
      }
    }
  } finally {
    await ceil.stop('SIGTERM');
  }

  const ratio = (xs: Run[], ys: Run[]): number =>
    round(median(xs.map((x, i) => x.reqPerSec / ys[i].reqPerSec)), 3);
  const byConnections: AtConnections[] = levels.map((conns, k) => ({
    connections: conns,
    create: summary(create[k]),
    createScheduled: summary(createSched[k]),
    fastifyCeiling: summary(ceiling[k]),
    ratios: {
      createVsCeiling: ratio(create[k], ceiling[k]),
      createScheduledVsCeiling: ratio(createSched[k], ceiling[k]),
    },
  }));
  const first = byConnections[0];
  const c = first.create;
  const cs = first.createScheduled;
  const a = summary(avail);
  const at = summary(availTs);
  const z = first.fastifyCeiling;
  const createWithinP99 = bestWithinP99(byConnections, 'create');
  const scheduledWithinP99 = bestWithinP99(byConnections, 'createScheduled');
  const result = {
    settings: {
      runs,
      durationS: duration,
      connections: levels,
      pipelining: 1,
      keepAlive: true,
      code: serviceCode(),
    },
    // At the first number of connections (10 by default), as autocannon loads by default.
    create: c,
    createScheduled: cs,
    availability: a,
    availabilityTimestamp: at,
    fastifyCeiling: z,
    byConnections,
    // The most creates/s with p99 within 20 ms, over the numbers of connections tried.
    createWithinP99,
    createScheduledWithinP99: scheduledWithinP99,
    ratios: {
      createVsCeiling: first.ratios.createVsCeiling,
      createScheduledVsCeiling: first.ratios.createScheduledVsCeiling,
      availabilityVsCeiling: ratio(avail, ceiling[0]),
      availabilityTimestampVsCeiling: ratio(availTs, ceiling[0]),
    },
    targets: {
      creates5000PerS: (createWithinP99?.reqPerSec ?? 0) >= 5000,
      createP99Le20ms: c.p99 <= P99_TARGET_MS,
      scheduledCreates5000PerS: (scheduledWithinP99?.reqPerSec ?? 0) >= 5000,
      scheduledCreateP99Le20ms: cs.p99 <= P99_TARGET_MS,
      creates5000PerSAtFirstConnections: c.reqPerSec >= 5000,
      scheduledCreates5000PerSAtFirstConnections: cs.reqPerSec >= 5000,
      availability10000PerS: a.reqPerSec >= 10_000,
    },
    profile: f.has('profile')
      ? {
          create: await profileUnder('creates (now)', (b) =>
            createOpts(b, duration, connections, 'now'),
          ),
          createScheduled: await profileUnder('creates (scheduled)', (b) =>
            createOpts(b, duration, connections, 'scheduled'),
          ),
          availability: await profileUnder('availability (2 h)', (b) => ({
            url: `${b}${availabilityPath('window')}`,
            duration,
            connections,
          })),
        }
      : undefined,
  };

  process.stdout.write(`\nHTTP (median of ${runs} × ${duration} s, ${connections} connections)\n`);
  printTable([
    {
      route: 'POST create (scheduled, 29 days)',
      'req/s': cs.reqPerSec,
      'p50 ms': cs.p50,
      'p99 ms': cs.p99,
      'vs ceiling': result.ratios.createScheduledVsCeiling,
      non2xx: cs.non2xx,
    },
    {
      route: 'POST create (now: dials at once)',
      'req/s': c.reqPerSec,
      'p50 ms': c.p50,
      'p99 ms': c.p99,
      'vs ceiling': result.ratios.createVsCeiling,
      non2xx: c.non2xx,
    },
    {
      route: 'GET availability (2 h, 24 slots)',
      'req/s': a.reqPerSec,
      'p50 ms': a.p50,
      'p99 ms': a.p99,
      'vs ceiling': result.ratios.availabilityVsCeiling,
      non2xx: a.non2xx,
    },
    {
      route: 'GET availability (timestamp, 2,316 slots)',
      'req/s': at.reqPerSec,
      'p50 ms': at.p50,
      'p99 ms': at.p99,
      'vs ceiling': result.ratios.availabilityTimestampVsCeiling,
      non2xx: at.non2xx,
    },
    {
      route: 'fastify GET / (ceiling)',
      'req/s': z.reqPerSec,
      'p50 ms': z.p50,
      'p99 ms': z.p99,
      'vs ceiling': 1,
      non2xx: z.non2xx,
    },
  ]);
  process.stdout.write(
    `\nCreates by number of connections (median of ${runs} × ${duration} s; ` +
      `each connection has one create in flight; "loop": the service's main thread, on a CPU ` +
      `or ready and waiting for one, as a share of the run)\n`,
  );
  const row = (l: AtConnections, create: 'now' | 'scheduled') => {
    const r = create === 'now' ? l.create : l.createScheduled;
    return {
      connections: l.connections,
      create,
      'req/s': r.reqPerSec,
      'p50 ms': r.p50,
      'p99 ms': r.p99,
      'vs ceiling': create === 'now' ? l.ratios.createVsCeiling : l.ratios.createScheduledVsCeiling,
      'ceiling req/s': l.fastifyCeiling.reqPerSec,
      'loop on CPU %': r.loop?.onCpuPct ?? '–',
      'loop waiting %': r.loop?.waitingPct ?? '–',
      'loop µs/create': r.loop?.cpuUsPerRequest ?? '–',
    };
  };
  printTable(byConnections.flatMap((l) => [row(l, 'now'), row(l, 'scheduled')]));
  const within = (b: typeof createWithinP99): string =>
    b ? `${b.reqPerSec} req/s at ${b.connections} connections (p99 ${b.p99} ms)` : 'none';
  process.stdout.write(
    `most creates/s with p99 ≤ ${P99_TARGET_MS} ms: now ${within(createWithinP99)}, ` +
      `scheduled ${within(scheduledWithinP99)}\n`,
  );
  const file = writeResult('http-create', result);
  process.stdout.write(`\nwritten ${path.relative(ROOT, file)}\n`);
  return result;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
