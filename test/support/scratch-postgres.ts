import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface ScratchPostgresDatabase {
  name: string;
  /** The server's URL with this database in its path. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A uniquely named database on a PostgreSQL server, created now and dropped on request (connections
 * still open are closed by the drop). No imports from the service: the benchmark uses it too.
 */
export async function createScratchPostgresDatabase(server: string, prefix: string): Promise<ScratchPostgresDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await administer(server, `CREATE DATABASE "${name}"`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => administer(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

async function administer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
