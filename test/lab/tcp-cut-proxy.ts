// A loopback TCP proxy for fault tests: forwards 127.0.0.1:<port> to a target, and on cut()
// destroys every proxied connection at once and refuses (accepts, then resets) new ones for a
// while, as a network that drops and comes back would. Used between the service and Asterisk's
// ARI port (REST and the events websocket both go through it).

import net from 'node:net';

export class TcpCutProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private refuseUntil = 0;
  /** Connections forwarded, connections reset while refusing, cuts made. */
  readonly counts = { accepted: 0, refused: 0, cuts: 0, destroyed: 0 };

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port); resolves with `http://127.0.0.1:<port>`. */
  async start(): Promise<string> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    return `http://127.0.0.1:${addr.port}`;
  }

  private accept(client: net.Socket): void {
    if (Date.now() < this.refuseUntil) {
      this.counts.refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.counts.accepted++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** True while cut() refuses new connections. */
  refusing(): boolean {
    return Date.now() < this.refuseUntil;
  }

  /** Resets every proxied connection now and refuses new ones for `refuseMs`. */
  cut(refuseMs: number): number {
    this.counts.cuts++;
    this.refuseUntil = Date.now() + refuseMs;
    const n = this.pairs.size;
    for (const p of [...this.pairs]) {
      this.pairs.delete(p);
      p.client.resetAndDestroy();
      p.upstream.destroy();
    }
    this.counts.destroyed += n;
    return n;
  }

  async stop(): Promise<void> {
    this.cut(0);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
