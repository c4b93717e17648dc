// A fake Asterisk Manager Interface: a TCP server on 127.0.0.1 speaking the AMI text protocol
// and answering with blocks recorded from the lab's real Asterisk (test/fixtures/ami/*.txt).
// Every `ActionID:` line of a replayed reply is rewritten to the request's ActionID; unsolicited
// events are pushed on demand; the connection can be dropped or refused to test reconnects.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'ami');

/** A recorded fixture, as written (LF line endings, blocks separated by a blank line). */
export function amiFixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** Splits fixture text into blocks of `Key: Value` lines. */
export function amiBlocks(text: string): string[] {
  return text
    .replace(/\r\n/g, '\n')
    .split(/\n\s*\n/)
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

export type AmiRequest = Record<string, string>;

/** A reply: fixture text, or a function of the request returning it (or undefined: no answer). */
export type FakeReply = string | ((req: AmiRequest) => string | undefined);

export interface FakeAmiOptions {
  username?: string;
  secret?: string;
}

export class FakeAmi {
  readonly received: AmiRequest[] = [];
  /** Sockets that have logged in; pushed events go to these. */
  private readonly sessions = new Set<net.Socket>();
  /**
   * Each session's event filters (`Filter` action, Operation Add), as Asterisk applies them: a
   * pushed event goes to a session with filters only if one of them matches its text.
   */
  private readonly filters = new Map<net.Socket, RegExp[]>();
  private readonly sockets = new Set<net.Socket>();
  private readonly replies = new Map<string, FakeReply>();
  private refusing = false;
  logins = 0;
  connections = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly opts: Required<FakeAmiOptions>,
  ) {
    this.replies.set('queuesummary', amiFixture('queue-summary-idle.txt'));
    this.replies.set('queuestatus', amiFixture('queue-status-idle.txt'));
    this.replies.set('devicestatelist', amiFixture('device-state-list.txt'));
    this.replies.set('ping', amiFixture('ping.txt'));
  }

  static async start(opts: FakeAmiOptions = {}): Promise<FakeAmi> {
    const server = net.createServer();
    const fake = new FakeAmi(server, {
      username: opts.username ?? 'dialback',
      secret: opts.secret ?? 'dialback',
    });
    server.on('connection', (s) => fake.accept(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Sets the reply to an action (name case-insensitive). */
  reply(action: string, reply: FakeReply): void {
    this.replies.set(action.toLowerCase(), reply);
  }

  /** The action is received but never answered. */
  ignore(action: string): void {
    this.replies.set(action.toLowerCase(), () => undefined);
  }

  /** Sends event blocks (fixture text) to every logged-in connection its filters let through. */
  push(text: string): void {
    const blocks = amiBlocks(text);
    for (const s of this.sessions) {
      const filters = this.filters.get(s);
      const wire = toWire(
        filters ? blocks.filter((b) => filters.some((re) => re.test(b))) : blocks,
      );
      if (wire) s.write(wire);
    }
  }

  /** Closes every open connection at once, as an Asterisk restart does. */
  drop(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** While true, new connections are closed as soon as they are accepted. */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  actionsNamed(action: string): AmiRequest[] {
    return this.received.filter((r) => r.action?.toLowerCase() === action.toLowerCase());
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(s: net.Socket): void {
    if (this.refusing) {
      s.destroy();
      return;
    }
    this.connections++;
    this.sockets.add(s);
    s.on('close', () => {
      this.sockets.delete(s);
      this.sessions.delete(s);
      this.filters.delete(s);
    });
    s.on('error', () => s.destroy());
    s.setEncoding('utf8');
    s.write(amiFixture('banner.txt').replace(/\n/g, '\r\n'));
    let buf = '';
    s.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const block = buf.slice(0, end);
        buf = buf.slice(end + 4);
        this.handle(s, parseBlock(block));
      }
    });
  }

  private handle(s: net.Socket, req: AmiRequest): void {
    this.received.push(req);
    const action = (req.action ?? '').toLowerCase();
    const id = req.actionid;
    if (action === 'login') {
      if (req.username === this.opts.username && req.secret === this.opts.secret) {
        this.logins++;
        this.sessions.add(s);
        s.write(withActionId(amiFixture('login-success.txt'), id));
      } else {
        // Asterisk answers, then closes the session.
        s.end(withActionId(amiFixture('login-failure.txt'), id));
      }
      return;
    }
    if (!this.sessions.has(s)) {
      s.write(withActionId('Response: Error\nMessage: Permission denied', id));
      return;
    }
    if (action === 'logoff') {
      s.end(withActionId(amiFixture('logoff.txt'), id));
      return;
    }
    const reply = this.replies.get(action);
    if (action === 'filter' && reply === undefined) {
      if (req.operation?.toLowerCase() !== 'add' || !req.filter) {
        s.write(withActionId('Response: Error\nMessage: Unknown operation', id));
        return;
      }
      this.filters.set(s, [...(this.filters.get(s) ?? []), new RegExp(req.filter)]);
      s.write(withActionId('Response: Success\nMessage: Success', id));
      return;
    }
    const text = typeof reply === 'function' ? reply(req) : reply;
    if (reply === undefined) {
      s.write(withActionId('Response: Error\nMessage: Invalid/unknown command\n', id));
      return;
    }
    if (text !== undefined) s.write(withActionId(text, id));
  }
}

function parseBlock(block: string): AmiRequest {
  const req: AmiRequest = {};
  for (const line of block.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    req[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return req;
}

function toWire(blocks: string[]): string {
  return blocks.map((b) => b.replace(/\n/g, '\r\n') + '\r\n\r\n').join('');
}

function withActionId(text: string, id: string | undefined): string {
  const blocks = amiBlocks(text).map((b) => {
    if (id === undefined) return b;
    if (/^ActionID: /m.test(b)) return b.replace(/^ActionID: .*$/m, `ActionID: ${id}`);
    // Asterisk echoes the ActionID on every response, recorded or not.
    return b.startsWith('Response:') ? b.replace(/^(.*)$/m, `$1\nActionID: ${id}`) : b;
  });
  return toWire(blocks);
}
