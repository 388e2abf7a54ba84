import { DrizzleQueryError } from 'drizzle-orm/errors';
import { loggableError } from './database-errors.js';

const failed = (cause: Record<string, unknown>) =>
  new DrizzleQueryError(
    'select "id" from "users" where "users"."email" = $1',
    ['ada@example.com'],
    Object.assign(new Error(String(cause.message)), cause),
  );

describe('loggableError', () => {
  it('keeps the SQL with its placeholders and the SQLSTATE, never a parameter', () => {
    const { summary, stack, redacted } = loggableError(
      failed({ code: '22021', message: 'invalid byte sequence for encoding "UTF8": 0x00 near ada@example.com' }),
    );
    expect(redacted).toBe(true);
    expect(summary).toBe(
      'DatabaseQueryError: the server refused it (SQLSTATE 22021) in query: select "id" from "users" where "users"."email" = $1',
    );
    expect(`${summary}\n${stack}`).not.toContain('ada@example.com');
    expect(stack).toMatch(/^DatabaseQueryError: .*\n\s+at /);
  });

  it("keeps PostgreSQL's message where its class cannot quote a value", () => {
    expect(loggableError(failed({ code: '42P01', message: 'relation "users" does not exist' })).summary).toContain(
      'relation "users" does not exist (SQLSTATE 42P01)',
    );
  });

  it('leaves every other error as it is', () => {
    const error = new TypeError('boom');
    expect(loggableError(error)).toEqual({ summary: 'TypeError: boom', stack: error.stack, redacted: false });
  });
});
