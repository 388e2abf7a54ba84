import type { LoggerService } from '@nestjs/common';
import { pino, type Level, type Logger } from 'pino';
import { loggableError } from '../database/database-errors.js';
import { currentLogContext } from './log-context.js';
import { censor, createLineScrubber, mayNeedPathRedaction, redactPaths } from './redaction.js';

/** JSON lines for log collectors (production); short readable lines for people (development, test). */
export type LogFormat = 'json' | 'pretty';

export interface LogLineSink {
  write(line: string): unknown;
}

export interface CreateLoggerOptions {
  format: LogFormat;
  /** Values scrubbed from every line wherever they appear (see `secretValues`). */
  secrets: readonly string[];
  level?: Level;
  /** Where finished lines go; stdout when not given. */
  destination?: LogLineSink;
}

/**
 * The one logger of the process, and the one place where redaction is enforced: sensitive fields
 * by path (`redact`), then every configured secret value by value on the finished line, so a
 * provider error that echoes a token is scrubbed as surely as a password field.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const scrub = createLineScrubber(options.secrets);
  const target = options.destination ?? standardOutput();
  const format = options.format === 'pretty' ? formatPretty : (line: string) => line;
  const sink = { write: (line: string) => target.write(format(scrub(line))) };
  const settings = { level: options.level ?? 'info', timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };
  const logger = pino({ ...settings, redact: { paths: redactPaths(), censor } }, sink);
  // Path redaction walks every wildcard path for every line, which made it one of the largest costs
  // per request; lines whose every field the service builds itself skip it (the scrubber still runs).
  withoutPathRedaction.set(logger, pino(settings, sink));
  return logger;
}

const withoutPathRedaction = new WeakMap<Logger, Logger>();

/**
 * The same logger (level, format, destination, secret scrubbing) without path redaction: only for
 * lines whose fields are all built by the service from values that are never sensitive, such as the
 * per-request summary line (method, path without query, route, status, request id, duration).
 */
export function loggerForServiceFields(logger: Logger): Logger {
  const plain = withoutPathRedaction.get(logger);
  if (plain && plain.level !== logger.level) plain.level = logger.level;
  return plain ?? logger;
}

let stdout: LogLineSink | undefined;

/**
 * One stdout writer for every logger of the process. A synchronous write per line (a system call
 * each) was a sizeable share of the CPU per request; instead the lines of one event-loop turn are
 * joined and written in one synchronous write when the turn ends. Nothing is ever in flight: what
 * is buffered when the process exits (refused configuration, start-up failure, shutdown,
 * `process.exit`) is written by the exit handler, so those last lines are not lost.
 */
function standardOutput(): LogLineSink {
  if (stdout) return stdout;
  const stream = pino.destination({ dest: 1, sync: true });
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  process.on('exit', flush);
  stdout = {
    write(line: string) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
  return stdout;
}

/**
 * One JSON line as `12:00:00.000 INFO  [Context] message key=value …`, with an error's stack below it
 * (pino-pretty's layout, without its worker thread).
 */
export function formatPretty(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  // The request line's msg already says method, path and status.
  const { time, level, msg, context, pid: _pid, hostname: _hostname, err, stack, req: _req, res: _res, ...fields } = record;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  let text = `${clock} ${String(level ?? '').toUpperCase().padEnd(5)} ${context ? `[${String(context)}] ` : ''}${msg === undefined ? '' : String(msg)}`;
  const pairs = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (pairs.length > 0) text += `${msg === undefined ? '' : ' '}${pairs.join(' ')}`;
  const trace = typeof stack === 'string' ? stack : (err as { stack?: unknown } | undefined)?.stack;
  if (typeof trace === 'string') text += `\n${trace.replace(/^/gm, '    ')}`;
  return `${text.trimEnd()}\n`;
}

/** Nest's start-up lines, one per module and one per route: at info, forty of them buried the start-up report. */
const NEST_BOOT_CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

const looksLikeStack = (value: unknown): value is string => typeof value === 'string' && /\n\s+at /.test(value);

/**
 * Nest's logger interface on pino, so every `new Logger(context)` of the service and Nest's own
 * lines land in the same JSON lines, with the request or job they were written for.
 */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest's convention: the context is the last string argument; `error` may pass a stack before it. */
  private write(requested: Level, message: unknown, params: unknown[]): void {
    const rest = [...params];
    const last = rest.at(-1);
    const context = typeof last === 'string' && !looksLikeStack(last) ? (rest.pop() as string) : undefined;
    const level = requested === 'info' && context !== undefined && NEST_BOOT_CHATTER.has(context) ? 'debug' : requested;
    if (!this.pino.isLevelEnabled(level)) return;
    const stack = rest.find(looksLikeStack);
    const fields: Record<string, unknown> = { context, ...currentLogContext() };
    let text: string | undefined;
    if (message instanceof Error) {
      // A failed query's error carries its parameters (addresses, numbers, digests) in fields, message and stack.
      const loggable = loggableError(message);
      fields.err = loggable.redacted ? { type: 'DatabaseQueryError', message: loggable.summary, stack: loggable.stack } : message;
      text = loggable.redacted ? loggable.summary : message.message;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(fields, message);
    } else {
      text = String(message);
    }
    if (stack) fields.stack = stack;
    // Most lines (audit events, delivery progress) hold nothing path redaction would touch, and
    // walking every redaction path for them cost more than writing the line.
    const logger = mayNeedPathRedaction(fields) ? this.pino : loggerForServiceFields(this.pino);
    logger[level](fields, text);
  }
}
