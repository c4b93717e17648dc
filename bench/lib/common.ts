// Shared helpers of the benchmarks: child processes started and stopped by pid, free ports,
// readiness polling, medians and percentiles, CPU profile summaries and the results folder.
// Benchmarks are scripts, not src/: they print to stdout and never run under `npm test`.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { runsBuild } from '../../bin/build-state';

export const ROOT = path.resolve(__dirname, '..', '..');

/**
 * What the service runs, as the `dialback` bin chooses (`runsBuild`): the compiled build of
 * the current sources (`npm run build`, which the bench scripts run first), or the sources.
 */
export function serviceCode(): 'dist' | 'src' {
  return runsBuild() ? 'dist' : 'src';
}
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile of an unsorted sample (p in 0..100). */
export function percentile(xs: ArrayLike<number>, p: number): number {
  const n = xs.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(xs as ArrayLike<number>).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return s[rank];
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((l) => round(l, 2)),
  };
}

export function writeResult(name: string, data: Record<string, unknown>): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ name, at: new Date().toISOString(), machine: machine(), ...data }, null, 2),
  );
  return file;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dialback-${prefix}-`));
}

/** Command-line flags `--name value` / `--name=value` / `--flag`. */
export function flags(argv = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

export function numFlag(f: Map<string, string>, name: string, dflt: number): number {
  const v = f.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${v}`);
  return n;
}

/**
 * The main thread of a process (its event loop) as the scheduler saw it so far: ns on a CPU and
 * ns runnable but waiting for one. `/proc/<pid>/schedstat` is the main thread's alone (a
 * process's other threads have their own under `task/`). Undefined once the process is gone.
 */
export function mainThreadSched(pid: number): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
    return { runNs: Number(run), waitNs: Number(wait) };
  } catch {
    return undefined;
  }
}

/** mainThreadSched sampled every 10 ms, to read any window of a run afterwards. */
export class SchedSampler {
  private readonly samples: Array<{ at: number; runNs: number; waitNs: number }> = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 10);
  }

  private sample(): void {
    const s = mainThreadSched(this.pid);
    if (s) this.samples.push({ at: Date.now(), ...s });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** On a CPU and waiting for one between the samples around [from, to] (epoch ms). */
  between(from: number, to: number): { windowMs: number; onCpuMs: number; waitingMs: number } {
    const a = [...this.samples].reverse().find((x) => x.at <= from) ?? this.samples[0];
    const b = this.samples.find((x) => x.at >= to) ?? this.samples[this.samples.length - 1];
    return {
      windowMs: b.at - a.at,
      onCpuMs: round((b.runNs - a.runNs) / 1e6, 1),
      waitingMs: round((b.waitNs - a.waitNs) / 1e6, 1),
    };
  }
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** Sends `signal` to the pid and waits for the exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

export function startChild(
  cmd: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** Called with every whole line the child writes to stdout. */
    onLine?: (line: string) => void;
  } = {},
): Child {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`cannot start ${cmd}`);
  let out = '';
  const keep = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 64_000) out = out.slice(-32_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  if (opts.onLine && proc.stdout)
    readline.createInterface({ input: proc.stdout, crlfDelay: Infinity }).on('line', opts.onLine);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const pid = proc.pid;
  return {
    proc,
    pid,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      process.kill(pid, signal);
      const t = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
      }, graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** A `dialback start` child of a benchmark (startDialback). */
export interface DialbackChild {
  pid: number;
  url: string;
  /** Spawn to the first 200 on /readyz, in ms. */
  readyMs: number;
  output(): string;
  /** Stops it (Child.stop) and removes the data directory if startDialback made it. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `node [nodeArgs] bin/dialback.js start --config <configFile>` on 127.0.0.1 (a free port unless
 * given), logging at warn, ready once /readyz answers 200. Without a `dataDir` it gets a temp
 * one, removed when it stops. A child that never gets ready is killed, and the error thrown.
 */
export async function startDialback(opts: {
  configFile: string;
  dataDir?: string;
  port?: number;
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  /** Called with every line of the service's log (stdout). */
  onLogLine?: (line: string) => void;
}): Promise<DialbackChild> {
  const port = opts.port ?? (await freePort());
  const ownDir = opts.dataDir === undefined ? tempDir('service') : undefined;
  const removeOwnDir = (): void => {
    if (ownDir) fs.rmSync(ownDir, { recursive: true, force: true });
  };
  const child = startChild(
    process.execPath,
    [...(opts.nodeArgs ?? []), 'bin/dialback.js', 'start', '--config', opts.configFile],
    {
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        DIALBACK_DATA_DIR: opts.dataDir ?? ownDir,
        DIALBACK_LOG_LEVEL: 'warn',
        DIALBACK_CONFIG: '',
      },
      ...(opts.onLogLine ? { onLine: opts.onLogLine } : {}),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  let readyMs: number;
  try {
    readyMs = await waitFor200(`${url}/readyz`, opts.readyTimeoutMs ?? 30_000, child);
  } catch (err) {
    await child.stop('SIGKILL');
    removeOwnDir();
    throw err;
  }
  return {
    pid: child.pid,
    url,
    readyMs,
    output: child.output,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      const code = await child.stop(signal);
      removeOwnDir();
      return code;
    },
  };
}

/** Polls `url` until it answers 200; returns the ms it took. */
export async function waitFor200(url: string, timeoutMs: number, child?: Child): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null))
      throw new Error(`child exited before ${url} answered:\n${child.output()}`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return performance.now() - t0;
    } catch {
      // not listening yet: poll again
    }
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`${url} not ready after ${timeoutMs} ms\n${child?.output() ?? ''}`);
    await sleep(20);
  }
}

/** Resident set size of a pid from /proc (bytes). */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time per function of a V8 .cpuprofile, top `n`, as shares of the samples. */
export function topFunctions(
  file: string,
  n = 20,
): Array<{ fn: string; where: string; selfPct: number }> {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
  };
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const counts = new Map<string, number>();
  for (const s of prof.samples) {
    const nd = byId.get(s);
    if (!nd) continue;
    const cf = nd.callFrame;
    const file = cf.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
    // tsx-compiled sources carry no usable line numbers in a CPU profile: the file is enough.
    const where = !file ? '' : file.endsWith('.ts') ? file : `${file}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName || '(anonymous)'}\u0000${where}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = prof.samples.length || 1;
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => {
      const [fn, where] = k.split('\u0000');
      return { fn, where, selfPct: round((100 * c) / total, 1) };
    });
}

/** Inclusive time of frames whose url matches each pattern (a coarse "where does it go"). */
export function timeByArea(file: string, areas: Record<string, RegExp>): Record<string, number> {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
  };
  const parent = new Map<number, number>();
  for (const nd of prof.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const hits: Record<string, number> = Object.fromEntries(Object.keys(areas).map((a) => [a, 0]));
  for (const s of prof.samples) {
    const seen = new Set<string>();
    for (let id: number | undefined = s; id !== undefined; id = parent.get(id)) {
      const nd = byId.get(id);
      if (!nd) break;
      const label = `${nd.callFrame.url} ${nd.callFrame.functionName}`;
      for (const [a, re] of Object.entries(areas)) if (re.test(label)) seen.add(a);
    }
    for (const a of seen) hits[a]++;
  }
  const total = prof.samples.length || 1;
  return Object.fromEntries(Object.entries(hits).map(([a, h]) => [a, round((100 * h) / total, 1)]));
}

export function printTable(rows: Array<Record<string, unknown>>): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i])).join('  ');
  process.stdout.write(`${line(cols)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of cells) process.stdout.write(`${line(r)}\n`);
}

export function newestFile(dir: string, ext: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return files[0];
}
