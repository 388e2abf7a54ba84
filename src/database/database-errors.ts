import { DrizzleQueryError } from 'drizzle-orm/errors';

/**
 * SQLSTATE classes whose messages name only the schema (relations, constraints, connections),
 * never a value: connection, integrity, transaction state, rollback, syntax and access, resources,
 * limits, prerequisite state, operator intervention, system. Others, data exceptions (22) above
 * all, quote the value they refused (`invalid input syntax for type uuid: "…"`).
 */
const CLASSES_WITHOUT_VALUES = new Set(['08', '23', '25', '40', '42', '53', '54', '55', '57', '58']);

/**
 * An error as a log line may carry it: the name and message, and the stack below. A failed
 * query's error would quote its parameters (Drizzle puts them in the message, and so in the stack
 * too) and PostgreSQL's message may quote the refused value: those are email addresses, phone
 * numbers and token digests, so for one only the SQL text with its placeholders, the SQLSTATE and
 * a message that cannot hold a value are kept.
 */
export function loggableError(error: unknown): { summary: string; stack: string | undefined; redacted: boolean } {
  if (!(error instanceof Error)) return { summary: typeof error, stack: undefined, redacted: false };
  if (!(error instanceof DrizzleQueryError)) return { summary: `${error.name}: ${error.message}`, stack: error.stack, redacted: false };
  const cause = (error.cause ?? {}) as { code?: unknown; message?: unknown; constraint?: unknown };
  const sqlState = typeof cause.code === 'string' && /^[0-9A-Z]{5}$/.test(cause.code) ? cause.code : undefined;
  const reason =
    sqlState && CLASSES_WITHOUT_VALUES.has(sqlState.slice(0, 2)) && typeof cause.message === 'string'
      ? cause.message
      : sqlState
        ? 'the server refused it'
        : 'no answer from the server';
  const summary = `DatabaseQueryError: ${reason}${sqlState ? ` (SQLSTATE ${sqlState})` : ''} in query: ${error.query}`;
  return { summary, stack: `${summary}\n${framesOf(error)}`, redacted: true };
}

/** The `    at …` lines alone: the first line of a stack repeats the message, parameters and all. */
function framesOf(error: Error): string {
  const header = `${String(error)}\n`;
  const stack = error.stack ?? '';
  return stack.startsWith(header) ? stack.slice(header.length) : '';
}
