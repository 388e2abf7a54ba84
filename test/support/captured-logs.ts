import { ConsoleLogger, type LogLevel } from '@nestjs/common';

export interface LogEntry {
  level: LogLevel;
  context: string | undefined;
  message: string;
}

/**
 * A Nest logger that keeps every line for assertions (codes from the console provider, the audit
 * trail) and prints only errors, so test output stays readable.
 */
export class CapturedLogs extends ConsoleLogger {
  readonly entries: LogEntry[] = [];

  constructor(private readonly printLevels: LogLevel[] = ['error']) {
    super();
  }

  private keep(level: LogLevel, message: unknown, params: unknown[]) {
    const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this.entries.push({ level, context, message: text });
    return this.printLevels.includes(level);
  }

  override log(message: unknown, ...params: unknown[]) {
    if (this.keep('log', message, params)) super.log(message, ...(params as [string]));
  }
  override warn(message: unknown, ...params: unknown[]) {
    if (this.keep('warn', message, params)) super.warn(message, ...(params as [string]));
  }
  override error(message: unknown, ...params: unknown[]) {
    if (this.keep('error', message, params)) super.error(message, ...(params as [string]));
  }
  override debug(message: unknown, ...params: unknown[]) {
    this.keep('debug', message, params);
  }
  override verbose(message: unknown, ...params: unknown[]) {
    this.keep('verbose', message, params);
  }

  /** Everything captured, one line per entry, for "no secret anywhere" assertions. */
  text(): string {
    return this.entries.map((entry) => `${entry.level} [${entry.context ?? ''}] ${entry.message}`).join('\n');
  }

  /** Waits for the console provider to print a code for `to` after log entry number `since`. */
  async nextCodeFor(to: string, since: number, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = since; i < this.entries.length; i++) {
        const entry = this.entries[i]!;
        const code = consoleCode(entry, to);
        if (code) return code;
      }
      if (Date.now() > deadline) throw new Error(`no code for ${to} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The latest code the console provider printed for a destination. */
  lastCodeFor(to: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const code = consoleCode(this.entries[i]!, to);
      if (code) return code;
    }
    return undefined;
  }
}

/** The console provider's line: `[email] code 123456 for a@example.com (purpose verify, …)`. */
function consoleCode(entry: LogEntry, to: string): string | undefined {
  if (entry.context !== 'ConsoleProvider' || !entry.message.includes(` for ${to} (`)) return undefined;
  return /code (\d+) for /.exec(entry.message)?.[1];
}
