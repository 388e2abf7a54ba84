import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { type DatabaseConnection, openPglite } from '../../src/database/database-connection.js';
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
