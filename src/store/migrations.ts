// Schema versions of the SQLite store, applied in order at open. The database's `user_version`
// records the last one applied; a migration and its version bump commit together. Never edit a
// released migration: add the next one.

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'option sets, callbacks, user data, history, bookings, dials, messages',
    sql: `
      CREATE TABLE option_sets (
        id   INTEGER PRIMARY KEY,
        json TEXT NOT NULL UNIQUE
      );

      CREATE TABLE callbacks (
        id              TEXT PRIMARY KEY,
        service         TEXT NOT NULL,
        gms             TEXT NOT NULL,
        reason          TEXT,
        customer_number TEXT NOT NULL,
        desired_time    INTEGER,
        slot_start      INTEGER,
        target          TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        next_wake_at    INTEGER,
        -- The session state without its options, which live once in option_sets.
        state           TEXT NOT NULL,
        options_id      INTEGER NOT NULL REFERENCES option_sets (id),
        user_data       TEXT NOT NULL
      );
      CREATE INDEX callbacks_service_gms ON callbacks (service, gms);
      CREATE INDEX callbacks_service_created ON callbacks (service, created_at);
      CREATE INDEX callbacks_customer_number ON callbacks (customer_number);
      CREATE INDEX callbacks_target ON callbacks (target);
      CREATE INDEX callbacks_desired_time ON callbacks (desired_time);
      CREATE INDEX callbacks_window ON callbacks (coalesce(desired_time, created_at));
      -- Partial indexes: completed callbacks pile up forever, resume and wake-ups never read them.
      CREATE INDEX callbacks_open_id ON callbacks (id) WHERE gms <> 'COMPLETED';
      CREATE INDEX callbacks_open_wake ON callbacks (next_wake_at, id)
        WHERE gms <> 'COMPLETED' AND next_wake_at IS NOT NULL;

      CREATE TABLE callback_data (
        callback_id TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        PRIMARY KEY (callback_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX callback_data_key_value ON callback_data (key, value, callback_id);

      CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        callback_id TEXT NOT NULL,
        at          INTEGER NOT NULL,
        event       TEXT,
        gms         TEXT NOT NULL,
        phase       TEXT NOT NULL
      );
      CREATE INDEX events_callback ON events (callback_id, id);

      CREATE TABLE bookings (
        callback_id TEXT PRIMARY KEY,
        service     TEXT NOT NULL,
        slot_start  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX bookings_slot ON bookings (service, slot_start);

      CREATE TABLE dials (
        call_id     TEXT PRIMARY KEY,
        callback_id TEXT NOT NULL,
        at          INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE messages (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        callback_id TEXT NOT NULL,
        service     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        data        TEXT NOT NULL,
        at          INTEGER NOT NULL
      );
      CREATE INDEX messages_callback ON messages (callback_id, seq);
      CREATE INDEX messages_service ON messages (service, seq);
    `,
  },
  {
    version: 2,
    description: 'index of started sessions, so a restart reads only those',
    sql: `
      CREATE INDEX callbacks_started_id ON callbacks (id)
        WHERE gms IN ('QUEUED', 'ROUTING', 'PROCESSING');
    `,
  },
  {
    version: 3,
    description: 'drop the desired-time index: the window index serves those queries',
    // Every scheduled create paid for a second entry on a random key, in an index whose
    // lookups `coalesce(desired_time, created_at)` answers as well (see compileCondition).
    sql: `
      DROP INDEX callbacks_desired_time;
    `,
  },
  {
    version: 4,
    description: 'drop the index of open callbacks by id: restarts read the started ones',
    // Kept up to date on every create and completion for a listing nothing reads any more
    // (a restart resumes only started sessions, through callbacks_started_id).
    sql: `
      DROP INDEX callbacks_open_id;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** The migrations a database at `current` still needs, in order. */
export function pendingMigrations(current: number): Migration[] {
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${current} is newer than this dialback (${SCHEMA_VERSION}): upgrade dialback`,
    );
  }
  return MIGRATIONS.filter((m) => m.version > current);
}
