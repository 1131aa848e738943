import type BetterSqlite3 from 'better-sqlite3';

/**
 * One step of the SQLite schema. The list is append-only: a released migration is never edited or reordered,
 * because databases in the field record only how many steps they have applied (`PRAGMA user_version`).
 */
export interface Migration {
  /** 1-based position; must equal the index in {@link migrations} plus one. */
  version: number;
  /** What the step does, for logs and error messages. */
  name: string;
  /** DDL/DML run inside the migration transaction. */
  sql: string;
}

/** The schema, oldest first. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'key-value entries and work queue',
    sql: `
      CREATE TABLE kv (
        ns         TEXT    NOT NULL,
        id         TEXT    NOT NULL,
        value      TEXT    NOT NULL,  -- JSON text
        expires_at INTEGER,           -- epoch ms; NULL = never
        PRIMARY KEY (ns, id)
      ) WITHOUT ROWID;
      -- Partial: most entries never expire and the sweep only needs the ones that do.
      CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;

      CREATE TABLE queue (
        sequence     INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order; AUTOINCREMENT so it never goes backwards
        id           TEXT    NOT NULL UNIQUE,
        queue        TEXT    NOT NULL,
        payload      TEXT    NOT NULL,  -- JSON text
        attempts     INTEGER NOT NULL DEFAULT 0,
        available_at INTEGER NOT NULL,  -- epoch ms; pushed forward by a lease or a retry delay
        enqueued_at  INTEGER NOT NULL
      );
      CREATE INDEX queue_due ON queue (queue, available_at, sequence);
    `,
  },
];

/**
 * Brings the database up to the latest schema and returns the resulting version.
 *
 * Runs in one IMMEDIATE transaction that re-reads `user_version` after taking the write lock, so two processes
 * opening a fresh file at once do not both apply step 1, and a failed step leaves the file as it was.
 * On an up-to-date file this is a read and a no-op commit.
 *
 * @throws Error when the file was written by a newer release (more steps than this one knows): running old code
 *   against a newer schema could corrupt data silently.
 */
export function migrate(db: BetterSqlite3.Database, steps: readonly Migration[] = migrations): number {
  const apply = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > steps.length) {
      throw new Error(`SQLite schema version ${current} is newer than this release supports (${steps.length}); upgrade the server`);
    }
    for (const step of steps.slice(current)) {
      if (step.version !== steps.indexOf(step) + 1) throw new Error(`migration "${step.name}" is out of order`);
      db.exec(step.sql);
      // user_version lives in the database header, so it commits (or rolls back) with the step itself.
      db.pragma(`user_version = ${step.version}`);
    }
    return Math.max(current, steps.length);
  });
  return apply.immediate();
}
