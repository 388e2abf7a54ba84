import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type LogFn, type Logger } from 'pino';
import pinoPretty, { type PrettyOptions } from 'pino-pretty';
import { isoTime } from '../common/iso-time.js';
import { loggableError } from '../database/database-errors.js';
import { BatchedDestination } from './batched-destination.js';
import { currentLogContext } from './log-context.js';
import { censor, createLineScrubber, mayNeedPathRedaction, redactPaths } from './redaction.js';

/** JSON lines for log collectors (production); short readable lines for people (development, test). */
export type LogFormat = 'json' | 'pretty';

export interface CreateLoggerOptions {
  format: LogFormat;
  /** Values scrubbed from every line wherever they appear (see `secretValues`). */
  secrets: readonly string[];
  level?: Level;
  /** Where finished lines go; stdout when not given. */
  destination?: DestinationStream;
}

/**
 * pino-pretty's layout for people: `[12:00:00.000] INFO: [Context] message {"key":"value"}`, one line a
 * record, with an error's stack (or the stack Nest passes beside a message) below it. Request and
 * response objects are left out: the request line's message already says method, path and status.
 */
export const PRETTY_OPTIONS: PrettyOptions = {
  translateTime: 'HH:MM:ss.l',
  ignore: 'pid,hostname,context,req,res',
  messageFormat: '{if context}[{context}]{end}{if msg} {msg}{end}',
  singleLine: true,
  errorLikeObjectKeys: ['err', 'error', 'stack'],
  customPrettifiers: { stack: (stack) => `\n${String(stack).replace(/^/gm, '    ')}` },
};

/**
 * The one logger of the process, and the one place where redaction is enforced: sensitive fields
 * by path (`redact`), then every configured secret value by value on the finished line, so a
 * provider error that echoes a token is scrubbed as surely as a password field.
 *
 * Standard output is pino's own: an asynchronous destination in production (pino writes what is
 * still buffered when the process exits), which gets lines in batches of 8 KiB or 100 ms, whichever
 * comes first (a write per line was a system call per line, some 6 % of a busy API process's CPU),
 * pino-pretty in development, both synchronous enough that
 * the last lines of a refused start or a shutdown are not lost.
 *
 * What standard output has not taken yet is held up to STDOUT_BUFFER_BYTES: a busy API writes about a
 * kilobyte of lines a request, and a log reader that stalls (a full disk under the container's log
 * driver, a stopped collector) made that buffer grow until the heap ran out and the process aborted,
 * taking every request in flight with it. Past the limit, lines are dropped and counted
 * (`otp_log_lines_dropped_total`), and the first line written once output flows again says how many.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const destination = options.destination ?? (options.format === 'pretty' ? prettyStdout() : jsonStdout());
  return pino(
    {
      level: options.level ?? 'info',
      timestamp: logTimestamp,
      formatters: { level: (label: string) => ({ level: label }) },
      hooks: { logMethod: redactByPathWhenNeeded, streamWrite: createLineScrubber(options.secrets) },
    },
    destination,
  );
}

/** Of the 160 MB heap the production image gives the service (`--max-old-space-size=160`): room for a stall of seconds at full load. */
export const STDOUT_BUFFER_BYTES = 24 * 1024 * 1024;

/** The JSON standard outputs of this process: each counts the lines its reader's stall cost. */
const jsonOutputs: BatchedDestination[] = [];

/** Log lines lost so far because standard output was not read fast enough. */
export function droppedLogLines(): number {
  return jsonOutputs.reduce((sum, output) => sum + output.droppedLines, 0);
}

/**
 * Resolves once standard output has taken every line logged so far, or after `limitMs`: false then, with lines still
 * held. The pretty format (development) writes each line as it comes, so only the JSON outputs are waited for.
 */
export async function stdoutWritten(limitMs: number): Promise<boolean> {
  const written = await Promise.all(jsonOutputs.map((output) => output.written(limitMs)));
  return written.every(Boolean);
}

function prettyStdout(): DestinationStream {
  return pinoPretty({ ...PRETTY_OPTIONS, destination: 1, sync: true });
}

function jsonStdout(): DestinationStream {
  const output = new BatchedDestination(pino.destination({ dest: 1, sync: false, maxLength: STDOUT_BUFFER_BYTES }), {
    minLength: 8192,
    maxDelayMs: 100,
    dropNotice: (lines) =>
      `${JSON.stringify({
        level: 'warn',
        time: isoTime(Date.now()),
        pid: process.pid,
        context: 'Logging',
        droppedLines: lines,
        msg: `${lines} log lines were dropped: standard output was not read as fast as they were written`,
      })}\n`,
  });
  jsonOutputs.push(output);
  return output;
}

/** pino's `isoTime` (`,"time":"<ISO 8601>"`), formatted as `isoTime` does: a busy API writes two lines a request. */
export const logTimestamp = (): string => `,"time":"${isoTime(Date.now())}"`;

/** Each logger's twin with path redaction, made the first time one of its lines needs it. */
const redactingTwins = new WeakMap<Logger, Logger>();

/**
 * Path redaction walks every wildcard path for every line: about 130 µs a line against 3 µs without,
 * which made it one of the largest costs per request. Most lines (request lines, audit events,
 * delivery progress) hold nothing it would touch (`mayNeedPathRedaction`); the others are written
 * through a child of the same logger (same bindings and destination) that redacts.
 */
function redactByPathWhenNeeded(this: Logger, args: Parameters<LogFn>, write: LogFn): void {
  const [fields] = args;
  const needed = typeof fields === 'object' && fields !== null && (fields instanceof Error || mayNeedPathRedaction(fields));
  if (!needed) return write.apply(this, args);
  let twin = redactingTwins.get(this);
  if (!twin) {
    twin = this.child({}, { redact: { paths: redactPaths(), censor } });
    redactingTwins.set(this, twin);
  }
  write.apply(twin, args);
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
    this.pino[level](fields, text);
  }
}
