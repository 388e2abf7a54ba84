import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.js';

/**
 * The Drizzle handle every repository uses. Typed on the common base of the node-postgres and PGlite
 * drivers, so nothing outside src/database knows which one it got.
 */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
export const Database = Symbol('Database');

/** The open connection behind `Database`: for health checks and shutdown. */
export const DATABASE_CONNECTION = Symbol('DATABASE_CONNECTION');
