// A real `dialback start` process for the chaos suite: spawned on a port chosen beforehand,
// killed with any signal, restarted on the same data directory. Time to readiness is measured
// from spawn to the first /readyz that answers 200.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'dialback.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Spawn to first 200 on /readyz, in ms. */
  readyMs: number;
  output(): string;
  exited: Promise<void>;
}

export interface ServerSpec {
  port: number;
  configFile: string;
  dataDir: string;
  dialLog: string;
  env?: Record<string, string>;
  /** Node options put before the script (e.g. `--expose-gc`, `--require <preload>`). */
  nodeArgs?: string[];
}

export async function startServer(
  spec: ServerSpec,
  readyTimeoutMs = 30_000,
): Promise<ServerProcess> {
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [...(spec.nodeArgs ?? []), BIN, 'start', '--config', spec.configFile],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(spec.port),
        HOST: '127.0.0.1',
        DIALBACK_DATA_DIR: spec.dataDir,
        DIALBACK_DIAL_LOG: spec.dialLog,
        DIALBACK_LOG_LEVEL: process.env.DIALBACK_LOG_LEVEL ?? 'error',
        ...spec.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  // Keep only the tail: a long run must not hold every log line in memory.
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  });
  const url = `http://127.0.0.1:${spec.port}`;
  const end = t0 + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`server exited before ready (${child.exitCode ?? child.signalCode})\n${out}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // Not listening yet: poll again.
    }
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`server not ready in ${readyTimeoutMs} ms\n${out}`);
    }
    await sleep(20);
  }
  return { child, url, readyMs: Date.now() - t0, output: () => out, exited };
}

export async function stopServer(p: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  await p.exited;
}
