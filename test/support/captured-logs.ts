import { prettyFactory } from 'pino-pretty';
import { PRETTY_OPTIONS } from '../../src/logging/logger.js';

const formatPretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: false });

export interface LogEntry {
  /** pino's level label: trace, debug, info, warn, error, fatal. */
  level: string;
  context: string | undefined;
  /** The `msg` of the line ('' for a line of fields alone, such as the audit trail's). */
  message: string;
  /** The whole line as parsed JSON. */
  record: Record<string, unknown>;
  /** The line exactly as the logger wrote it, after redaction. */
  line: string;
}

/**
 * Where the app's logger writes in tests: every line, already redacted, kept for assertions (codes
 * from the console provider, the audit trail, request ids); only errors are printed, so test output
 * stays readable.
 */
export class CapturedLogs {
  readonly entries: LogEntry[] = [];

  constructor(private readonly printLevels: string[] = ['error', 'fatal']) {}

  write(line: string): void {
    const record = JSON.parse(line) as Record<string, unknown>;
    const entry: LogEntry = {
      level: String(record.level),
      context: typeof record.context === 'string' ? record.context : undefined,
      message: typeof record.msg === 'string' ? record.msg : '',
      record,
      line: line.trimEnd(),
    };
    this.entries.push(entry);
    if (this.printLevels.includes(entry.level)) process.stderr.write(formatPretty(line));
  }

  /** Everything captured, one line per entry, for "no secret anywhere" assertions. */
  text(): string {
    return this.entries.map((entry) => entry.line).join('\n');
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

/** The console provider's line: `{"context":"ConsoleProvider","msg":"[email] code 123456 for a@example.com (purpose verify, …)"}`. */
function consoleCode(entry: LogEntry, to: string): string | undefined {
  if (entry.context !== 'ConsoleProvider' || !entry.message.includes(` for ${to} (`)) return undefined;
  return /code (\d+) for /.exec(entry.message)?.[1];
}
