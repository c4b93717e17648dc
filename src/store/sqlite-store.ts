// The embedded store: one SQLite file in WAL mode through better-sqlite3 (the only importer of
// it). Every write is one transaction, so a failed write (disk full, read-only file) leaves
// nothing half-done and surfaces as StoreUnavailableError. Seat counting runs under BEGIN
// IMMEDIATE: the count and the insert hold the write lock together, even across processes.

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ServiceOptions } from '../domain/options';
import type { CallbackReason, GmsState, SessionState } from '../domain/session-types';
import { DialbackError } from '../errors';
import { type Logger, silentLogger } from '../logger';
import { startCheckpointer, type Checkpointer } from './checkpointer';
import { pendingMigrations, SCHEMA_VERSION } from './migrations';
import {
  type AdminWindowQuery,
  type Booking,
  type CallbackQuery,
  type CallbackRow,
  type DueEntry,
  type HistoryEntry,
  type HistoryEvent,
  type MessageKind,
  type NewMessage,
  type QueryCondition,
  type SessionHoldings,
  SlotFullError,
  type Store,
  type StoredMessage,
  StoreUnavailableError,
} from './store';

export interface SqliteStoreOptions {
  /** Directory of the database file, created if missing. Default `./data`. */
  dir?: string;
  /** File name inside `dir` (or an absolute path); `:memory:` for a throwaway store. */
  file?: string;
  /**
   * NORMAL (default) survives a process crash, which is the promise; FULL also survives a power
   * loss at the cost of an fsync per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a write waits for another connection's lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * Group the writes of one event-loop tick into one transaction (default true). A write is
   * then durable once `afterCommit` calls back; with false every write commits on its own.
   */
  batch?: boolean;
  /**
   * Run WAL checkpoints in a worker thread instead of inside commits (default true for a file
   * store; see checkpointer.ts).
   */
  checkpointWorker?: boolean;
  /** How often the worker checkpoints; default 250 ms. */
  checkpointIntervalMs?: number;
  /** WAL frames past which the worker makes the WAL start over (see checkpointer.ts). */
  walRestartFrames?: number;
  /**
   * A file store's tick gathers writes for more turns of the event loop while each turn brings
   * more, up to this long (default 2 ms; 0 commits after one turn). Every commit writes its
   * dirty pages to the WAL, and pages that several writes share are then written once.
   */
  gatherMs?: number;
  /**
   * A throwaway in-memory store for what-if simulations (`file` and `dir` are ignored): nothing
   * survives the process. Unlike `:memory:`, whose pages all stay in the page cache and whose
   * every commit then walks that whole cache (commits grew from 3 µs to 90 µs over a simulated
   * day of 100,000 bookings), the image sits in SQLite's memdb VFS behind a bounded cache.
   */
  scratch?: boolean;
  /**
   * Keep each callback's history of events (default true; `history` reads it). A what-if
   * simulation reads only the final rows and spares itself a row per event.
   */
  history?: boolean;
  /**
   * Keep the stream of messages (default true; `messagesAfter` reads it back for a stream that
   * resumes). Without it `appendMessage` only numbers each message and `messagesAfter` finds
   * none: a what-if simulation hears its messages live and spares itself a row per message.
   */
  messages?: boolean;
  logger?: Logger;
}

/** The open transaction of the current tick and what waits for its commit. */
interface Batch {
  /** Writes so far, and as many at the last look: a turn that added none ends the gathering. */
  writes: number;
  seen: number;
  /** performance.now() at the first write. */
  opened: number;
  waiting: Array<(err?: Error) => void>;
  optionIds: Array<[string, number]>;
  optionSets: Array<[number, ServiceOptions]>;
}

interface CallbackDbRow {
  id: string;
  service: string;
  gms: GmsState;
  reason: CallbackReason | null;
  customer_number: string;
  desired_time: number | null;
  slot_start: number | null;
  target: string;
  created_at: number;
  updated_at: number;
  next_wake_at: number | null;
  state: string;
  options_id: number;
  user_data: string;
}

interface MessageDbRow {
  seq: number;
  callback_id: string;
  service: string;
  kind: MessageKind;
  data: string;
  at: number;
}

const CALLBACK_COLUMNS =
  'c.id, c.service, c.gms, c.reason, c.customer_number, c.desired_time, c.slot_start, c.target, ' +
  'c.created_at, c.updated_at, c.next_wake_at, c.state, c.options_id, c.user_data';

/** GMS query keys stored as columns; every other key is user data. */
const KEY_COLUMNS = new Map<string, string>([
  ['_id', 'c.id'],
  ['_callback_state', 'c.gms'],
  ['_callback_reason', 'c.reason'],
  ['_customer_number', 'c.customer_number'],
  ['_desired_time', 'c.desired_time'],
  ['_service_name', 'c.service'],
  ['_target', 'c.target'],
]);

/** Keys whose match is a large share of a service: the service index serves them better. */
const BROAD_KEYS: ReadonlySet<string> = new Set([
  '_callback_state',
  '_callback_reason',
  '_service_name',
]);

const RELEASING_REASONS: ReadonlySet<CallbackReason> = new Set(['CANCELLED', 'CANCELLED_BY_ADMIN']);

/** SQLite result codes (primary part) that mean "storage unusable", not "bad request". */
const UNAVAILABLE_CODES = [
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_PROTOCOL',
  'SQLITE_NOMEM',
  'SQLITE_PERM',
];

/** Dynamic query shapes are few (keys are parameters); the cap only guards against misuse. */
const MAX_CACHED_STATEMENTS = 500;

/** The SQLite store; `checkpointMode` tells who copies the WAL into the database file. */
export type SqliteStoreHandle = Store & { checkpointMode(): 'worker' | 'commit' };

export function openSqliteStore(opts: SqliteStoreOptions = {}): SqliteStoreHandle {
  return new SqliteStore(opts);
}

function toUnavailable(e: unknown, op: string): StoreUnavailableError | undefined {
  if (e instanceof StoreUnavailableError) return e;
  if (e instanceof Database.SqliteError) {
    if (UNAVAILABLE_CODES.some((c) => e.code === c || e.code.startsWith(`${c}_`))) {
      return new StoreUnavailableError(`store ${op} failed: ${e.message}`, e.code, { cause: e });
    }
    return undefined;
  }
  // better-sqlite3 throws a TypeError for any use of a closed connection.
  if (e instanceof TypeError && /database connection is not open/.test(e.message)) {
    return new StoreUnavailableError(`store ${op} failed: the store is closed`, 'CLOSED', {
      cause: e,
    });
  }
  if (e instanceof Error && 'code' in e && e.code === 'EACCES') {
    return new StoreUnavailableError(`store ${op} failed: ${e.message}`, 'EACCES', { cause: e });
  }
  return undefined;
}

function parseTimeValue(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new DialbackError(
      'CallbackExceptionInvalidField',
      `_desired_time must be an ISO 8601 date: ${value}`,
    );
  }
  return ms;
}

/** The earliest armed timer: when a session that gave no explicit wake-up must run next. */
function earliestTimer(state: SessionState): number | null {
  if (state.gms === 'COMPLETED') return null;
  let min: number | null = null;
  for (const due of Object.values(state.timers)) {
    if (due !== undefined && (min === null || due < min)) min = due;
  }
  return min;
}

/** The state's paths `holdings` reads, in the order toHoldings takes them. */
const HELD = `'$.phase', '$.agentId', '$.customerCallId', '$.agentCallId'`;

interface HeldRow {
  gms: GmsState;
  /** json_extract of HELD: a JSON array. */
  held: string;
}

function toHoldings(row: HeldRow): SessionHoldings {
  const [phase, agentId, customerCallId, agentCallId] = JSON.parse(row.held) as [
    SessionState['phase'],
    string | null,
    string | null,
    string | null,
  ];
  const out: SessionHoldings = { gms: row.gms, phase };
  if (agentId !== null) out.agentId = agentId;
  if (customerCallId !== null) out.customerCallId = customerCallId;
  if (agentCallId !== null) out.agentCallId = agentCallId;
  return out;
}

class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly cache = new Map<string, Database.Statement>();
  /** Set when a write failed for want of storage, cleared by the next successful write. */
  private writeFailed = false;
  /** Bumped on every seat change (see seatsVersion). */
  private seats = 0;
  /**
   * Seats taken per slot start, per service: read from the bookings once, then kept up to date
   * by every booking written and given back; dropped (read again when next asked) when a write
   * that changed seats rolls back, or when another connection committed (`data_version`), so
   * that concurrent writers still never overbook. Counting a day of bookings in SQLite cost
   * 300 µs for every refused booking's alternatives, and the count behind every seat taken a
   * few µs more; reading the counts once took 106.5 ms for 1,000,000 bookings in 8,064 slots
   * (a file just reopened).
   */
  private readonly slotSeats = new Map<string, Map<number, number>>();
  /** `data_version` when slotSeats was last known to be whole. */
  private seatsDataVersion = -1;
  /** JSON of option sets already encoded, by identity: options are never mutated in place. */
  private readonly optionsJson = new WeakMap<ServiceOptions, string>();
  private readonly batching: boolean;
  private readonly gatherMs: number;
  private readonly keepHistory: boolean;
  /** Without a kept stream (`messages: false`): the last seq handed out. */
  private readonly unkept: { seq: number } | undefined;
  private checkpointer: Checkpointer | undefined;
  private batch: Batch | undefined;
  /**
   * Option sets are stored once and referenced by id: a full ServiceOptions is most of a
   * session's state, and repeating it per row made the file six times larger (a 2 KB row also
   * leaves half a page empty). Only committed ids are cached: a rolled-back id may be reused.
   */
  private readonly optionIds = new Map<string, number>();
  private readonly optionSets = new Map<number, ServiceOptions>();
  /** One BEGIN IMMEDIATE runner (a savepoint when nested in an open transaction). */
  private readonly inTransaction: <T>(fn: () => T) => T;

  private readonly s: {
    insertCallback: Database.Statement;
    insertData: Database.Statement;
    deleteData: Database.Statement;
    insertEvent: Database.Statement;
    updateState: Database.Statement;
    updateStateAndStatus: Database.Statement;
    updateBooking: Database.Statement;
    serviceOf: Database.Statement;
    seatOf: Database.Statement;
    insertBooking: Database.Statement;
    deleteBooking: Database.Statement;
    get: Database.Statement;
    holdings: Database.Statement;
    holdingsOf: Database.Statement;
    startedSessions: Database.Statement;
    due: Database.Statement;
    dueAfter: Database.Statement;
    seatsPerSlot: Database.Statement;
    dataVersion: Database.Statement;
    countOpen: Database.Statement;
    countByState: Database.Statement;
    countCreatedSince: Database.Statement;
    recordDial: Database.Statement;
    dialRecorded: Database.Statement;
    appendMessage: Database.Statement;
    history: Database.Statement;
    ping: Database.Statement;
    insertOptionSet: Database.Statement;
    optionSetId: Database.Statement;
    optionSet: Database.Statement;
    begin: Database.Statement;
    commit: Database.Statement;
  };

  constructor(opts: SqliteStoreOptions) {
    this.log = (opts.logger ?? silentLogger()).child({ component: 'store' });
    this.batching = opts.batch ?? true;
    this.gatherMs = opts.scratch || opts.file === ':memory:' ? 0 : (opts.gatherMs ?? 2);
    this.keepHistory = opts.history ?? true;
    this.unkept = opts.messages === false ? { seq: 0 } : undefined;
    const file = opts.file ?? 'dialback.db';
    let location = file;
    try {
      if (opts.scratch) {
        // An empty image deserialized: the database lives in SQLite's memdb VFS, in memory but
        // read through an ordinary, bounded page cache (see `scratch`).
        location = ':memory:';
        this.db = new Database(new Database(':memory:').serialize());
      } else {
        if (file !== ':memory:') {
          const dir = path.resolve(opts.dir ?? './data');
          location = path.resolve(dir, file);
          fs.mkdirSync(path.dirname(location), { recursive: true });
        }
        this.db = new Database(location, { timeout: opts.busyTimeoutMs ?? 5000 });
      }
    } catch (e) {
      throw toUnavailable(e, 'open') ?? e;
    }
    try {
      this.configure(opts);
      this.migrate();
      // Numbers carry on from the messages an earlier run kept.
      if (this.unkept)
        this.unkept.seq = (
          this.db.prepare('SELECT coalesce(max(seq), 0) AS n FROM messages').get() as { n: number }
        ).n;
      // 0x10002: analyze the tables that need it, with a bounded effort, as SQLite advises at open.
      this.optimize('0x10002');
    } catch (e) {
      this.db.close();
      throw toUnavailable(e, 'open') ?? e;
    }

    if (
      (opts.checkpointWorker ?? true) &&
      location !== ':memory:' &&
      this.db.pragma('journal_mode', { simple: true }) === 'wal'
    ) {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = startCheckpointer({
        file: location,
        logger: this.log,
        onUnavailable: () => {
          if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
        },
        intervalMs: opts.checkpointIntervalMs,
        restartFrames: opts.walRestartFrames,
      });
    }

    const db = this.db;
    this.inTransaction = db.transaction((fn: () => unknown) => fn()).immediate as <T>(
      fn: () => T,
    ) => T;
    this.s = {
      // Positional parameters: binding fourteen named ones looks each name up in an object,
      // which cost a create about 2 µs more (see insertCallback for the order).
      insertCallback: db.prepare(
        `INSERT INTO callbacks (id, service, gms, reason, customer_number, desired_time, slot_start,
           target, created_at, updated_at, next_wake_at, state, options_id, user_data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertData: db.prepare(
        'INSERT INTO callback_data (callback_id, key, value) VALUES (?, ?, ?)',
      ),
      deleteData: db.prepare('DELETE FROM callback_data WHERE callback_id = ?'),
      insertEvent: db.prepare(
        'INSERT INTO events (callback_id, at, event, gms, phase) VALUES (?, ?, ?, ?, ?)',
      ),
      // The state changes on every event, the GMS state, reason and option set seldom: they are
      // written only when they differ, because each of them is in several indexes (and
      // options_id is a foreign key) that SQLite rewrites whenever the column is SET.
      updateState: db.prepare(
        `UPDATE callbacks SET state = @state, next_wake_at = @nextWakeAt, updated_at = @at
         WHERE id = @id`,
      ),
      // For the saves that do change the status (see saveState): one statement for the state
      // and the status, whose indexes must be rewritten then anyway.
      updateStateAndStatus: db.prepare(
        `UPDATE callbacks SET state = @state, next_wake_at = @nextWakeAt, updated_at = @at,
           gms = @gms, reason = @reason, options_id = @optionsId
         WHERE id = @id`,
      ),
      updateBooking: db.prepare(
        `UPDATE callbacks SET desired_time = @desiredTime, slot_start = @slotStart,
           user_data = @userData WHERE id = @id`,
      ),
      serviceOf: db.prepare('SELECT service FROM callbacks WHERE id = ?'),
      seatOf: db.prepare('SELECT slot_start AS slotStart FROM bookings WHERE callback_id = ?'),
      insertBooking: db.prepare(
        'INSERT INTO bookings (callback_id, service, slot_start) VALUES (?, ?, ?)',
      ),
      deleteBooking: db.prepare(
        'DELETE FROM bookings WHERE callback_id = ? RETURNING service, slot_start AS slotStart',
      ),
      get: db.prepare(`SELECT ${CALLBACK_COLUMNS} FROM callbacks c WHERE c.id = ?`),
      // One JSON parse, in SQLite, for the four fields (several paths give a JSON array).
      holdings: db.prepare(
        `SELECT gms, json_extract(state, ${HELD}) AS held FROM callbacks WHERE id = ?`,
      ),
      // Probes the primary key once per id of the JSON array.
      holdingsOf: db.prepare(
        `SELECT id, gms, json_extract(state, ${HELD}) AS held FROM callbacks
         WHERE id IN (SELECT value FROM json_each(?))`,
      ),
      startedSessions: db.prepare(
        `SELECT ${CALLBACK_COLUMNS} FROM callbacks c INDEXED BY callbacks_started_id
         WHERE c.gms IN ('QUEUED', 'ROUTING', 'PROCESSING') AND c.id > ? ORDER BY c.id LIMIT ?`,
      ),
      due: db.prepare(
        `SELECT id, service, next_wake_at FROM callbacks
         WHERE gms <> 'COMPLETED' AND next_wake_at IS NOT NULL
           AND next_wake_at >= ? AND next_wake_at <= ?
         ORDER BY next_wake_at, id LIMIT ?`,
      ),
      dueAfter: db.prepare(
        `SELECT id, service, next_wake_at FROM callbacks
         WHERE gms <> 'COMPLETED' AND next_wake_at IS NOT NULL
           AND (next_wake_at > @at OR (next_wake_at = @at AND id > @id))
           AND next_wake_at >= @from AND next_wake_at <= @until
         ORDER BY next_wake_at, id LIMIT @limit`,
      ),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      seatsPerSlot: db.prepare(
        `SELECT slot_start, count(*) AS n FROM bookings WHERE service = ? GROUP BY slot_start`,
      ),
      countOpen: db.prepare(
        "SELECT count(*) AS n FROM callbacks WHERE service = ? AND gms <> 'COMPLETED'",
      ),
      countByState: db.prepare(
        'SELECT service, gms, count(*) AS n FROM callbacks GROUP BY service, gms',
      ),
      countCreatedSince: db.prepare(
        'SELECT count(*) AS n FROM callbacks WHERE service = ? AND created_at >= ?',
      ),
      recordDial: db.prepare(
        'INSERT OR IGNORE INTO dials (call_id, callback_id, at) VALUES (?, ?, ?)',
      ),
      dialRecorded: db.prepare('SELECT 1 AS one FROM dials WHERE call_id = ?'),
      appendMessage: db.prepare(
        'INSERT INTO messages (callback_id, service, kind, data, at) VALUES (?, ?, ?, ?, ?)',
      ),
      history: db.prepare(
        'SELECT at, event, gms, phase FROM events WHERE callback_id = ? ORDER BY id',
      ),
      ping: db.prepare('SELECT 1 AS one'),
      insertOptionSet: db.prepare('INSERT OR IGNORE INTO option_sets (json) VALUES (?)'),
      optionSetId: db.prepare('SELECT id FROM option_sets WHERE json = ?'),
      optionSet: db.prepare('SELECT json FROM option_sets WHERE id = ?'),
      // Prepared once: every tick begins and commits, and exec would parse the SQL each time.
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
    };
    this.log.info({ file: location, schema: SCHEMA_VERSION }, 'store opened');
  }

  private configure(opts: SqliteStoreOptions): void {
    if (opts.scratch) {
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = MEMORY');
      this.db.pragma('synchronous = OFF');
      this.db.pragma('temp_store = MEMORY');
      this.db.pragma('cache_size = -4096');
      return;
    }
    try {
      const mode: unknown = this.db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && this.db.name !== ':memory:') {
        this.log.warn({ mode }, 'store is not in WAL mode');
      }
    } catch (e) {
      // A read-only file that is not yet in WAL mode cannot switch; it can still be read.
      this.log.warn({ err: e }, 'cannot switch the store to WAL mode');
    }
    this.db.pragma(`synchronous = ${opts.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('temp_store = MEMORY');
    this.db.pragma('cache_size = -32768');
    // A WAL that grew under a burst is cut back to this size once a checkpoint has caught up.
    this.db.pragma('journal_size_limit = 67108864');
  }

  /** Refreshes planner statistics; optional, so a read-only file only logs why it could not. */
  private optimize(mask: string): void {
    try {
      this.db.pragma(mask ? `optimize = ${mask}` : 'optimize');
    } catch (e) {
      this.log.debug({ err: e }, 'store optimize skipped');
    }
  }

  private migrate(): void {
    const current = Number(this.db.pragma('user_version', { simple: true }));
    for (const m of pendingMigrations(current)) {
      this.db
        .transaction(() => {
          this.db.exec(m.sql);
          // user_version lives in the header page: it commits or rolls back with the migration.
          this.db.pragma(`user_version = ${m.version}`);
        })
        .immediate();
      this.log.info({ version: m.version, description: m.description }, 'store migrated');
    }
  }

  // -- guards -----------------------------------------------------------------------------

  /**
   * Runs one write. Every write checks what may refuse it (a full slot, an unknown callback)
   * before it changes anything, so inside the tick's transaction it runs bare: a savepoint per
   * write cost more than the write itself, and grew with the size of the tick. A write that
   * fails part-way for any other reason (a full disk, an I/O error) aborts the whole tick: its
   * writes roll back together and everyone waiting for them hears of it, as when a commit
   * fails. `atomic` (explicit transactions, whose callers may refuse midway) keeps a savepoint.
   */
  private write<T>(op: string, fn: () => T, atomic = false): T {
    const b = this.batching ? this.openBatch(op) : undefined;
    if (b) b.writes++;
    const marks = b ? [b.optionIds.length, b.optionSets.length] : [0, 0];
    const seatsBefore = this.seats;
    try {
      const result = b && !atomic ? fn() : this.inTransaction(fn);
      if (!b) this.writeFailed = false;
      return result;
    } catch (e) {
      const unavailable = toUnavailable(e, op);
      const refusal = !unavailable && e instanceof DialbackError;
      if (b && !atomic && !refusal) {
        this.abortBatch(unavailable ?? (e instanceof Error ? e : new Error(String(e))), op);
      } else {
        // A rolled-back write that took or gave back a seat changes the counts once more; one
        // that touched no seat (a full slot refused) leaves them, and their memo, as they were.
        if (this.seats !== seatsBefore) this.seatsRolledBack();
        if (b) {
          // Cache entries of the rolled-back savepoint were never written.
          b.optionIds.length = marks[0];
          b.optionSets.length = marks[1];
        }
      }
      if (!unavailable) throw e;
      this.writeFailed = true;
      this.log.error({ op, code: unavailable.storeCode, err: e }, 'store write failed');
      throw unavailable;
    }
  }

  /** A write failed part-way: the tick's transaction rolls back, and its waiters are told. */
  private abortBatch(err: Error, op: string): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    this.rollBack();
    this.log.error({ op, err, writes: b.waiting.length }, 'a write failed: the tick rolled back');
    for (const cb of b.waiting) cb(err);
  }

  /** Undoes the tick's transaction, whose bookings may have taken or given back seats. */
  private rollBack(): void {
    this.seatsRolledBack();
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch (rollbackError) {
      this.log.error({ err: rollbackError }, 'store rollback failed');
    }
  }

  /** The tick's transaction, begun at its first write and committed on the next turn. */
  private openBatch(op: string): Batch {
    if (this.batch) return this.batch;
    try {
      this.s.begin.run();
    } catch (e) {
      const unavailable = toUnavailable(e, op);
      if (!unavailable) throw e;
      this.writeFailed = true;
      throw unavailable;
    }
    const b: Batch = {
      writes: 0,
      seen: 0,
      opened: performance.now(),
      waiting: [],
      optionIds: [],
      optionSets: [],
    };
    this.batch = b;
    setImmediate(() => this.gathered(b));
    return b;
  }

  /** Commits once a turn of the loop brought no write, or the tick has gathered long enough. */
  private gathered(b: Batch): void {
    if (this.batch !== b) return;
    if (b.writes > b.seen && performance.now() - b.opened < this.gatherMs) {
      b.seen = b.writes;
      setImmediate(() => this.gathered(b));
      return;
    }
    this.commit();
  }

  /** Commits the tick's writes, then tells everyone waiting for them. */
  commit(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    let failure: Error | undefined;
    try {
      this.s.commit.run();
      for (const [json, id] of b.optionIds) this.optionIds.set(json, id);
      for (const [id, options] of b.optionSets) this.optionSets.set(id, options);
      this.writeFailed = false;
    } catch (e) {
      this.rollBack();
      this.writeFailed = true;
      failure = toUnavailable(e, 'commit') ?? (e instanceof Error ? e : new Error(String(e)));
      this.log.error({ err: e, writes: b.waiting.length }, 'store commit failed');
    }
    for (const cb of b.waiting) cb(failure);
  }

  afterCommit(cb: (err?: Error) => void): void {
    if (this.batch) this.batch.waiting.push(cb);
    else cb();
  }

  private read<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const unavailable = toUnavailable(e, op);
      if (!unavailable) throw e;
      this.log.error({ op, code: unavailable.storeCode, err: e }, 'store read failed');
      throw unavailable;
    }
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      if (this.cache.size >= MAX_CACHED_STATEMENTS) this.cache.clear();
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  // -- writes -----------------------------------------------------------------------------

  insertCallback(row: CallbackRow, booking?: Booking): void {
    this.write('insertCallback', () => {
      if (booking) this.takeSeat(row.id, row.service, booking);
      const encoded = this.encodeState(row.state);
      this.s.insertCallback.run(
        row.id,
        row.service,
        row.gms,
        row.reason,
        row.customerNumber,
        row.desiredTime,
        booking ? booking.slotStart : row.slotStart,
        row.target,
        row.createdAt,
        row.updatedAt,
        row.nextWakeAt,
        encoded.state,
        encoded.optionsId,
        JSON.stringify(row.userData),
      );
      this.insertUserData(row.id, row.userData);
      if (this.keepHistory)
        this.s.insertEvent.run(row.id, row.createdAt, null, row.gms, row.state.phase);
    });
  }

  saveSession(
    id: string,
    state: SessionState,
    event: HistoryEvent | null,
    nextWakeAt: number | null,
    at: number,
    previous?: SessionState,
  ): void {
    this.write('saveSession', () => this.saveState(id, state, event, nextWakeAt, at, previous));
  }

  moveBooking(
    id: string,
    booking: Booking | null,
    desiredTime: number | null,
    state: SessionState,
    userData: Record<string, string>,
    at: number,
    nextWakeAt?: number | null,
  ): void {
    this.write('moveBooking', () => {
      const found = this.s.serviceOf.get(id) as { service: string } | undefined;
      if (!found) throw new DialbackError('CallbackExceptionNotFound', `No callback ${id}`);
      // Refusals come before any change (see write). Our own seat, when it is in the target
      // slot already, is not counted against us.
      if (booking) {
        const own = this.s.seatOf.get(id) as { slotStart: number } | undefined;
        const taken = this.seatsIn(found.service).get(booking.slotStart) ?? 0;
        if (taken - (own?.slotStart === booking.slotStart ? 1 : 0) >= booking.limit)
          throw new SlotFullError(booking.slotStart);
      }
      this.giveBackSeat(id);
      if (booking) this.insertSeat(id, found.service, booking.slotStart);
      this.s.updateBooking.run({
        id,
        desiredTime,
        slotStart: booking ? booking.slotStart : null,
        userData: JSON.stringify(userData),
      });
      this.s.deleteData.run(id);
      this.insertUserData(id, userData);
      const event: HistoryEvent = { type: 'reschedule', desiredTime };
      this.saveState(
        id,
        state,
        event,
        nextWakeAt === undefined ? earliestTimer(state) : nextWakeAt,
        at,
      );
    });
  }

  recordDial(callId: string, callbackId: string, at: number): boolean {
    return this.write(
      'recordDial',
      () => this.s.recordDial.run(callId, callbackId, at).changes === 1,
    );
  }

  appendMessage(m: NewMessage): number {
    if (this.unkept) return ++this.unkept.seq;
    return this.write('appendMessage', () =>
      Number(
        this.s.appendMessage.run(m.callbackId, m.service, m.kind, JSON.stringify(m.data), m.at)
          .lastInsertRowid,
      ),
    );
  }

  transaction<T>(fn: () => T): T {
    return this.write('transaction', fn, true);
  }

  private takeSeat(id: string, service: string, booking: Booking): void {
    const taken = this.seatsIn(service).get(booking.slotStart) ?? 0;
    if (taken >= booking.limit) throw new SlotFullError(booking.slotStart);
    this.insertSeat(id, service, booking.slotStart);
  }

  // The two writes of the bookings table: each bumps `seats` (seatsVersion) and keeps the
  // counts in step. `seats` moves before the statement, so that a write failing in it still
  // counts as one that may have changed seats (see write).
  private insertSeat(id: string, service: string, slotStart: number): void {
    this.seats++;
    this.s.insertBooking.run(id, service, slotStart);
    this.countSeat(service, slotStart, 1);
  }

  private giveBackSeat(id: string): void {
    this.seats++;
    const gone = this.s.deleteBooking.get(id) as { service: string; slotStart: number } | undefined;
    if (gone) this.countSeat(gone.service, gone.slotStart, -1);
  }

  private countSeat(service: string, slotStart: number, delta: 1 | -1): void {
    // Counts not read yet are read from the table, this write included, when first asked for.
    const counts = this.slotSeats.get(service);
    if (!counts) return;
    const n = (counts.get(slotStart) ?? 0) + delta;
    if (n > 0) counts.set(slotStart, n);
    else counts.delete(slotStart);
  }

  /** Seats taken per slot start of a service (slots with none are absent). */
  private seatsIn(service: string): Map<number, number> {
    // Inside a write the lock is ours: no other connection can commit before we do.
    const version = this.s.dataVersion.get() as number;
    if (version !== this.seatsDataVersion) {
      this.slotSeats.clear();
      this.seatsDataVersion = version;
    }
    let counts = this.slotSeats.get(service);
    if (!counts) {
      const rows = this.s.seatsPerSlot.all(service) as Array<{ slot_start: number; n: number }>;
      counts = new Map(rows.map((r) => [r.slot_start, r.n]));
      this.slotSeats.set(service, counts);
    }
    return counts;
  }

  /** A write that took or gave back seats rolled back: the counts change once more. */
  private seatsRolledBack(): void {
    this.seats++;
    this.slotSeats.clear();
  }

  checkpointMode(): 'worker' | 'commit' {
    return Number(this.db.pragma('wal_autocheckpoint', { simple: true })) === 0
      ? 'worker'
      : 'commit';
  }

  seatsVersion(): number {
    return this.seats;
  }

  private insertUserData(id: string, userData: Record<string, string>): void {
    for (const [key, value] of Object.entries(userData)) {
      this.s.insertData.run(id, key, String(value));
    }
  }

  private saveState(
    id: string,
    state: SessionState,
    event: HistoryEvent | null,
    nextWakeAt: number | null,
    at: number,
    previous?: SessionState,
  ): void {
    const encoded = this.encodeState(state);
    // Most saves change neither the GMS state, the reason nor the options: the state alone is
    // written then. Otherwise, or when the previous state is not known, one statement writes
    // the state and all three status columns.
    const sameStatus =
      previous !== undefined &&
      previous.gms === state.gms &&
      previous.reason === state.reason &&
      previous.options === state.options;
    const changed = sameStatus
      ? this.s.updateState.run({ id, state: encoded.state, nextWakeAt, at }).changes
      : this.s.updateStateAndStatus.run({
          id,
          state: encoded.state,
          nextWakeAt,
          at,
          gms: state.gms,
          reason: state.reason ?? null,
          optionsId: encoded.optionsId,
        }).changes;
    if (changed === 0) throw new DialbackError('CallbackExceptionNotFound', `No callback ${id}`);
    if (this.keepHistory)
      this.s.insertEvent.run(id, at, event ? JSON.stringify(event) : null, state.gms, state.phase);
    if (state.gms === 'COMPLETED' && state.reason && RELEASING_REASONS.has(state.reason)) {
      this.giveBackSeat(id);
    }
  }

  private encodeState(state: SessionState): { state: string; optionsId: number } {
    const { options, ...rest } = state;
    let json = this.optionsJson.get(options);
    if (json === undefined) {
      json = JSON.stringify(options);
      this.optionsJson.set(options, json);
    }
    return { state: JSON.stringify(rest), optionsId: this.optionSetIdOf(json) };
  }

  private optionSetIdOf(json: string): number {
    const cached = this.optionIds.get(json);
    if (cached !== undefined) return cached;
    this.s.insertOptionSet.run(json);
    const id = (this.s.optionSetId.get(json) as { id: number }).id;
    // Inside a transaction the row may still roll back: cache only what is committed.
    if (this.batch) this.batch.optionIds.push([json, id]);
    else if (!this.db.inTransaction) this.optionIds.set(json, id);
    return id;
  }

  private optionsOf(id: number): ServiceOptions {
    let options = this.optionSets.get(id);
    if (!options) {
      const row = this.s.optionSet.get(id) as { json: string } | undefined;
      if (!row) throw new Error(`option set ${id} is missing from the store`);
      // Shared by every row of the set, and frozen so that nobody can change it for the others
      // (options are replaced, never edited). Sharing one object also lets encodeState reuse
      // its JSON when the row is saved again.
      options = Object.freeze(JSON.parse(row.json) as ServiceOptions);
      this.optionsJson.set(options, row.json);
      if (this.batch) this.batch.optionSets.push([id, options]);
      else if (!this.db.inTransaction) this.optionSets.set(id, options);
    }
    return options;
  }

  private toCallbackRow(r: CallbackDbRow): CallbackRow {
    const state = JSON.parse(r.state) as Omit<SessionState, 'options'>;
    return {
      id: r.id,
      service: r.service,
      state: { ...state, options: this.optionsOf(r.options_id) },
      userData: JSON.parse(r.user_data) as Record<string, string>,
      gms: r.gms,
      reason: r.reason,
      customerNumber: r.customer_number,
      desiredTime: r.desired_time,
      slotStart: r.slot_start,
      target: r.target,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      nextWakeAt: r.next_wake_at,
    };
  }

  // -- reads ------------------------------------------------------------------------------

  get(id: string): CallbackRow | undefined {
    return this.read('get', () => {
      const row = this.s.get.get(id) as CallbackDbRow | undefined;
      return row ? this.toCallbackRow(row) : undefined;
    });
  }

  serviceOf(id: string): string | undefined {
    return this.read('serviceOf', () => {
      const row = this.s.serviceOf.get(id) as { service: string } | undefined;
      return row?.service;
    });
  }

  holdings(id: string): SessionHoldings | undefined {
    return this.read('holdings', () => {
      const row = this.s.holdings.get(id) as HeldRow | undefined;
      return row ? toHoldings(row) : undefined;
    });
  }

  holdingsOf(ids: readonly string[]): Map<string, SessionHoldings> {
    return this.read('holdingsOf', () => {
      const out = new Map<string, SessionHoldings>();
      if (ids.length === 0) return out;
      for (const row of this.s.holdingsOf.all(JSON.stringify(ids)) as Array<
        HeldRow & { id: string }
      >)
        out.set(row.id, toHoldings(row));
      return out;
    });
  }

  query(q: CallbackQuery): CallbackRow[] {
    return this.read('query', () => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (q.service !== undefined) {
        // `+` keeps the planner off the service index when a key lookup narrows far better.
        const narrowed =
          q.operand === 'AND' &&
          q.conditions.some((cond) => !cond.negate && !BROAD_KEYS.has(cond.key));
        where.push(narrowed ? '+c.service = ?' : 'c.service = ?');
        params.push(q.service);
      }
      if (q.conditions.length > 0) {
        const parts = q.conditions.map((cond) => compileCondition(cond, params));
        where.push(`(${parts.join(q.operand === 'OR' ? ' OR ' : ' AND ')})`);
      }
      params.push(q.limit);
      const sql =
        `SELECT ${CALLBACK_COLUMNS} FROM callbacks c` +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY c.rowid LIMIT ?';
      return (this.stmt(sql).all(...params) as CallbackDbRow[]).map((r) => this.toCallbackRow(r));
    });
  }

  startedSessions(afterId: string | null, limit: number): CallbackRow[] {
    return this.read('startedSessions', () =>
      (this.s.startedSessions.all(afterId ?? '', limit) as CallbackDbRow[]).map((r) =>
        this.toCallbackRow(r),
      ),
    );
  }

  dueBetween(
    from: number,
    until: number,
    limit: number,
    after?: { nextWakeAt: number; id: string },
  ): DueEntry[] {
    return this.read('dueBetween', () => {
      const rows = (
        after
          ? this.s.dueAfter.all({ at: after.nextWakeAt, id: after.id, from, until, limit })
          : this.s.due.all(from, until, limit)
      ) as Array<{ id: string; service: string; next_wake_at: number }>;
      return rows.map((r) => ({ id: r.id, service: r.service, nextWakeAt: r.next_wake_at }));
    });
  }

  bookedCounts(service: string, from: number, to: number): Map<number, number> {
    const counts = this.read('bookedCounts', () => this.seatsIn(service));
    const out = new Map<number, number>();
    for (const [slot, n] of counts) if (slot >= from && slot < to) out.set(slot, n);
    return out;
  }

  countOpen(service: string): number {
    return this.read('countOpen', () => (this.s.countOpen.get(service) as { n: number }).n);
  }

  countByState(): Array<{ service: string; gms: GmsState; n: number }> {
    return this.read(
      'countByState',
      () => this.s.countByState.all() as Array<{ service: string; gms: GmsState; n: number }>,
    );
  }

  countCreatedSince(service: string, since: number): number {
    return this.read(
      'countCreatedSince',
      () => (this.s.countCreatedSince.get(service, since) as { n: number }).n,
    );
  }

  countOpenByKey(service: string, key: string, value: string): number {
    return this.read('countOpenByKey', () => {
      const params: unknown[] = [service];
      const cond = compileCondition({ key, value, negate: false }, params);
      const sql = `SELECT count(*) AS n FROM callbacks c
        WHERE +c.service = ? AND c.gms <> 'COMPLETED' AND ${cond}`;
      return (this.stmt(sql).get(...params) as { n: number }).n;
    });
  }

  dialRecorded(callId: string): boolean {
    return this.read('dialRecorded', () => this.s.dialRecorded.get(callId) !== undefined);
  }

  messagesAfter(
    filter: { callbackId?: string; service?: string },
    afterSeq: number,
    limit: number,
  ): StoredMessage[] {
    if (this.unkept) return [];
    return this.read('messagesAfter', () => {
      const where = ['seq > ?'];
      const params: unknown[] = [afterSeq];
      if (filter.callbackId !== undefined) {
        where.push('callback_id = ?');
        params.push(filter.callbackId);
      }
      if (filter.service !== undefined) {
        where.push('service = ?');
        params.push(filter.service);
      }
      params.push(limit);
      const sql = `SELECT seq, callback_id, service, kind, data, at FROM messages
        WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`;
      return (this.stmt(sql).all(...params) as MessageDbRow[]).map((r) => ({
        seq: r.seq,
        callbackId: r.callback_id,
        service: r.service,
        kind: r.kind,
        data: JSON.parse(r.data) as unknown,
        at: r.at,
      }));
    });
  }

  history(id: string): HistoryEntry[] {
    return this.read('history', () =>
      (
        this.s.history.all(id) as Array<{
          at: number;
          event: string | null;
          gms: GmsState;
          phase: string;
        }>
      ).map((r) => ({
        at: r.at,
        event: r.event === null ? null : (JSON.parse(r.event) as unknown),
        gms: r.gms,
        phase: r.phase,
      })),
    );
  }

  adminWindow(q: AdminWindowQuery): CallbackRow[] {
    return this.read('adminWindow', () => {
      const where = ['coalesce(c.desired_time, c.created_at) BETWEEN ? AND ?'];
      const params: unknown[] = [q.from, q.to];
      if (q.target !== undefined) {
        where.push('c.target = ?');
        params.push(q.target);
      }
      if (q.states !== undefined && q.states.length > 0) {
        where.push('c.gms IN (SELECT value FROM json_each(?))');
        params.push(JSON.stringify(q.states));
      }
      params.push(q.max);
      const sql = `SELECT ${CALLBACK_COLUMNS} FROM callbacks c WHERE ${where.join(' AND ')}
        ORDER BY coalesce(c.desired_time, c.created_at), c.id LIMIT ?`;
      return (this.stmt(sql).all(...params) as CallbackDbRow[]).map((r) => this.toCallbackRow(r));
    });
  }

  isHealthy(): boolean {
    if (!this.db.open || this.writeFailed) return false;
    try {
      this.s.ping.get();
      return true;
    } catch (e) {
      this.log.warn({ err: e }, 'store health probe failed');
      return false;
    }
  }

  close(): void {
    this.checkpointer?.stop();
    if (this.db.open) {
      this.commit();
      this.optimize('');
      this.db.close();
      this.log.info('store closed');
    }
  }
}

/** Appends the condition's parameters to `params` and returns its SQL. */
export function compileCondition(cond: QueryCondition, params: unknown[]): string {
  const column = KEY_COLUMNS.get(cond.key);
  if (column !== undefined) {
    const value = cond.key === '_desired_time' ? parseTimeValue(cond.value) : cond.value;
    params.push(value);
    // IS NOT: a negated condition also matches rows where the column is NULL (no reason yet).
    if (cond.negate) return `${column} IS NOT ?`;
    if (cond.key !== '_desired_time') return `${column} = ?`;
    // A desired time is found through the window index: where it is set, it is the window key.
    params.push(value);
    return `(coalesce(c.desired_time, c.created_at) = ? AND ${column} = ?)`;
  }
  params.push(cond.key, cond.value);
  const matching = 'SELECT callback_id FROM callback_data WHERE key = ? AND value = ?';
  return cond.negate ? `c.id NOT IN (${matching})` : `c.id IN (${matching})`;
}
