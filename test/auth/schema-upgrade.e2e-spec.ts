import { hash } from '@node-rs/argon2';
import { sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DatabaseConnection, MIGRATIONS_FOLDER, openPglite } from '../../src/database/database-connection.js';
import { Database } from '../../src/database/database.constants.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { LOOSE_LIMITS } from '../support/environments.js';
import { totpCode, totpStep } from '../support/totp.js';

/** The first migration of authenticator apps: a database made by the migrations before it is one of the previous release. */
const FIRST_NEW_MIGRATION = '0002_authenticator_apps';

type Journal = { entries: Array<{ tag: string }> };

/** A migrations folder holding only the migrations that came before FIRST_NEW_MIGRATION. */
function previousMigrations(): { folder: string; count: number } {
  const folder = mkdtempSync(join(tmpdir(), 'otp-gateway-previous-migrations-'));
  mkdirSync(join(folder, 'meta'));
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as Journal;
  const cut = journal.entries.findIndex((entry) => entry.tag === FIRST_NEW_MIGRATION);
  expect(cut).toBeGreaterThan(0);
  const entries = journal.entries.slice(0, cut);
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries }));
  for (const { tag } of entries) copyFileSync(join(MIGRATIONS_FOLDER, `${tag}.sql`), join(folder, `${tag}.sql`));
  return { folder, count: entries.length };
}

const rowsOf = async <T>(connection: DatabaseConnection, query: ReturnType<typeof sql>) =>
  ((await connection.db.execute(query)) as unknown as { rows: T[] }).rows;

/**
 * A database of the previous release (its migrations only, with accounts and sessions in it) upgraded in
 * place by the service's own start-up: every row kept, the sessions still refreshing, the accounts still
 * signing in, and the new features working on them.
 */
describe.each(testDatabaseKinds())('upgrading a database of the previous schema on %s', (kind) => {
  let inboxes: Inboxes;
  let service: TestApp | undefined;
  let scratch: TestDatabase | undefined;
  let pgliteDir: string | undefined;
  let previous: { folder: string; count: number };

  const run = `${kind.toLowerCase()}${Date.now() % 100_000}`;
  const email = `upgrade.${run}@example.com`;
  const unconfirmed = `unconfirmed.${run}@example.com`;
  const password = 'a-password-from-before';
  const userId = randomUUID();
  const sessionId = randomUUID();
  const refreshToken = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    inboxes = await Inboxes.start();
    previous = previousMigrations();
    // A database of its own: PGlite in files (an in-memory one would start from the migrated snapshot), or a new PostgreSQL database.
    pgliteDir = kind === 'PGlite' ? mkdtempSync(join(tmpdir(), 'otp-gateway-upgrade-')) : undefined;
    scratch = pgliteDir ? undefined : await createTestDatabase(kind);
    const connection = pgliteDir ? await openPglite(pgliteDir) : await scratch!.connect();
    try {
      if (connection.kind === 'pglite')
        await migratePglite(connection.db as unknown as PgliteDatabase, { migrationsFolder: previous.folder });
      else await migrateNodePg(connection.db as unknown as NodePgDatabase, { migrationsFolder: previous.folder });
      const passwordHash = await hash(password);
      await connection.db.execute(
        sql`INSERT INTO users (id, email, password_hash, email_verified_at, otp_channel) VALUES (${userId}, ${email}, ${passwordHash}, now(), 'email')`,
      );
      await connection.db.execute(sql`INSERT INTO users (email) VALUES (${unconfirmed})`);
      const tokenHash = createHash('sha256').update(refreshToken).digest('hex');
      await connection.db.execute(
        sql`INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, user_agent, ip)
            VALUES (${userId}, ${sessionId}, ${tokenHash}, now() + interval '30 days', 'old-browser', '192.0.2.10')`,
      );
    } finally {
      await connection.close();
    }
    service = await startApp(
      { ...inboxes.env(), ...LOOSE_LIMITS, JWT_SECRET, ...(scratch ? { DATABASE_URL: scratch.url } : { NODE_ENV: 'development' }) },
      pgliteDir ? { embeddedDir: pgliteDir } : {},
    );
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
    await scratch?.drop();
    if (pgliteDir) rmSync(pgliteDir, { recursive: true, force: true });
    if (previous) rmSync(previous.folder, { recursive: true, force: true });
  });

  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(service!.url, 'POST', `/v1/auth${path}`, body, headers);
  const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });

  it('applies the new migrations at start-up and keeps every row as it was', async () => {
    const connection = pgliteDir ? undefined : await scratch!.connect();
    try {
      // PGlite belongs to the running service: read through it.
      const read = async <T>(query: ReturnType<typeof sql>) =>
        connection
          ? rowsOf<T>(connection, query)
          : ((await service!.app.get<Database>(Database).execute(query)) as unknown as { rows: T[] }).rows;
      const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as Journal;
      expect(previous.count).toBeLessThan(journal.entries.length);
      expect(await read<{ n: number }>(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)).toEqual([
        { n: journal.entries.length },
      ]);
      const rows = await read<Record<string, unknown>>(
        sql`SELECT email, otp_channel, email_verified_at IS NOT NULL AS verified, totp_secret, totp_enabled_at, totp_recovery_codes FROM users ORDER BY email`,
      );
      expect(rows).toEqual([
        { email: unconfirmed, otp_channel: null, verified: false, totp_secret: null, totp_enabled_at: null, totp_recovery_codes: null },
        { email, otp_channel: 'email', verified: true, totp_secret: null, totp_enabled_at: null, totp_recovery_codes: null },
      ]);
      expect(await read(sql`SELECT family_id, user_agent, ip, revoked_at FROM refresh_tokens`)).toEqual([
        { family_id: sessionId, user_agent: 'old-browser', ip: '192.0.2.10', revoked_at: null },
      ]);
    } finally {
      await connection?.close();
    }
  });

  it('keeps the sessions: a refresh token issued before the upgrade refreshes, and the session is listed', async () => {
    const refreshed = await post('/token/refresh', { refreshToken });
    expect(refreshed).toMatchObject({ status: 200, body: { user: { id: userId, email } } });
    const accessToken = refreshed.body.accessToken as string;
    const listed = await call(service!.url, 'GET', '/v1/auth/sessions', undefined, bearer(accessToken));
    expect(listed.body).toEqual([expect.objectContaining({ id: sessionId, current: true })]);
  });

  it('signs the old account in with its old password, and turns on an authenticator app for it', async () => {
    const login = await post('/login', { identifier: email, password });
    expect(login).toMatchObject({ status: 200, body: { channel: 'email' } });
    const signedIn = await post('/otp/verify', { challengeId: login.body.challengeId, code: await inboxes.nextCode(email) });
    expect(signedIn.status).toBe(200);
    const accessToken = signedIn.body.accessToken as string;
    const enrolled = await post('/totp/enroll', { password }, bearer(accessToken));
    expect(enrolled.status).toBe(200);
    const step = totpStep();
    expect((await post('/totp/confirm', { code: totpCode(enrolled.body.secret as string, step) }, bearer(accessToken))).status).toBe(200);
    const app = await post('/login', { identifier: email, password });
    expect(app.body.channel).toBe('totp');
    expect(
      (await post('/otp/verify', { challengeId: app.body.challengeId, code: totpCode(enrolled.body.secret as string, step + 1) })).status,
    ).toBe(200);
  });
});
