import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { type DatabaseConnection, MIGRATIONS_FOLDER, openPglite } from '../../src/database/database-connection.js';
import { users } from '../../src/database/schema.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase, testDatabaseKinds } from '../support/databases.js';

async function appliedMigrations(connection: DatabaseConnection): Promise<number> {
  const result = await connection.db.execute(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
  const rows = (result as unknown as { rows: Array<{ n: number }> }).rows;
  return rows[0]!.n;
}

async function tablesOf(connection: DatabaseConnection): Promise<string[]> {
  const result = await connection.db.execute(
    sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  return (result as unknown as { rows: Array<{ table_name: string }> }).rows.map((row) => row.table_name);
}

describe.each(testDatabaseKinds())('migrations on %s', (kind) => {
  let database: TestDatabase;
  const open: DatabaseConnection[] = [];
  const connect = async () => {
    const connection = await database.connect();
    open.push(connection);
    return connection;
  };

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await Promise.all(open.map((connection) => connection.close()));
    await database?.drop();
  });

  it('creates the schema, and a second run changes nothing', async () => {
    const connection = await connect();
    await connection.migrate();
    expect(await tablesOf(connection)).toEqual(['pending_contact_changes', 'refresh_tokens', 'users']);
    const applied = await appliedMigrations(connection);
    expect(applied).toBeGreaterThan(0);

    await connection.db.insert(users).values({ email: 'kept@example.com' });
    await connection.migrate();
    expect(await appliedMigrations(connection)).toBe(applied);
    expect(await connection.db.select().from(users)).toHaveLength(1);
  });

  it('upgrades a database of the first schema in place, keeping its accounts, so unverified claims stop blocking', async () => {
    // A database as the first release left it: only migration 0000 applied, with accounts in it.
    const first = mkdtempSync(join(tmpdir(), 'otp-gateway-migrations-'));
    mkdirSync(join(first, 'meta'));
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
      entries: Array<{ tag: string }>;
    };
    writeFileSync(join(first, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }));
    copyFileSync(join(MIGRATIONS_FOLDER, `${journal.entries[0]!.tag}.sql`), join(first, `${journal.entries[0]!.tag}.sql`));
    // A database of its own: PGlite in files (an in-memory one starts from the migrated snapshot), or a new PostgreSQL database.
    const pgliteDir = kind === 'PGlite' ? mkdtempSync(join(tmpdir(), 'otp-gateway-pglite-upgrade-')) : undefined;
    const scratch = pgliteDir ? undefined : await createTestDatabase(kind);
    const connection = pgliteDir ? await openPglite(pgliteDir) : await scratch!.connect();
    try {
      if (connection.kind === 'pglite') await migratePglite(connection.db as unknown as PgliteDatabase, { migrationsFolder: first });
      else await migrateNodePg(connection.db as unknown as NodePgDatabase, { migrationsFolder: first });
      expect(await appliedMigrations(connection)).toBe(1);
      const verifiedAt = new Date('2026-01-01T00:00:00Z');
      // In SQL of that schema: the current schema's insert would name columns added since.
      await connection.db.execute(
        sql`INSERT INTO users (email, email_verified_at, phone) VALUES ('owner@example.com', ${verifiedAt.toISOString()}, NULL), ('pending@example.com', NULL, '+447911123456')`,
      );

      await connection.migrate();
      expect(await appliedMigrations(connection)).toBe(journal.entries.length);
      expect((await connection.db.select().from(users)).map((user) => user.email).sort()).toEqual([
        'owner@example.com',
        'pending@example.com',
      ]);
      // A second claim of an unverified address is now allowed; a second verified owner still is not.
      await connection.db.insert(users).values({ email: 'pending@example.com' });
      await expect(connection.db.insert(users).values({ email: 'owner@example.com', emailVerifiedAt: verifiedAt })).rejects.toThrow();
    } finally {
      rmSync(first, { recursive: true, force: true });
      await connection.close();
      await scratch?.drop();
      if (pgliteDir) rmSync(pgliteDir, { recursive: true, force: true });
    }
  });

  it('answers a ping', async () => {
    const connection = await connect();
    await expect(connection.ping()).resolves.toBeUndefined();
  });
});

(postgresServerUrl() ? describe : describe.skip)('migrations on PostgreSQL from two processes at once', () => {
  let database: TestDatabase;
  const open: DatabaseConnection[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('PostgreSQL');
  });
  afterAll(async () => {
    await Promise.all(open.map((connection) => connection.close()));
    await database?.drop();
  });

  it('lets both replicas start: one migrates while the other waits for the advisory lock', async () => {
    const replicas = await Promise.all([database.connect(), database.connect(), database.connect()]);
    open.push(...replicas);
    await Promise.all(replicas.map((replica) => replica.migrate()));
    expect(await tablesOf(replicas[0]!)).toEqual(['pending_contact_changes', 'refresh_tokens', 'users']);
    expect(await appliedMigrations(replicas[1]!)).toBe(await appliedMigrations(replicas[2]!));
  });
});

describe('the embedded development database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otp-gateway-pglite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps its data in files across restarts', async () => {
    const dataDir = join(dir, 'nested', 'pglite');
    const first = await openPglite(dataDir);
    await first.migrate();
    await first.db.insert(users).values({ phone: '+447911123456' });
    await first.close();

    const second = await openPglite(dataDir);
    try {
      await second.migrate();
      expect((await second.db.select().from(users)).map((user) => user.phone)).toEqual(['+447911123456']);
    } finally {
      await second.close();
    }
  });
});
