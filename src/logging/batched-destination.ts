import type { DestinationStream } from 'pino';

/** What a batch is handed to: pino's asynchronous destination (sonic-boom), writing each batch as it comes. */
export interface BatchTarget {
  write(chunk: string): unknown;
  flush?(callback: (error?: Error) => void): void;
  /** Set once the target is ended (pino ends its destination when the event loop empties): it takes no more. */
  readonly destroyed?: boolean;
  /** sonic-boom's `drop`: a write it refused, its buffer full (`maxLength`), emitted from within `write`. */
  on?(event: 'drop', listener: (data: string) => void): unknown;
  /** sonic-boom's `drain`: everything it was given is written, nothing in flight. */
  once?(event: 'drain', listener: () => void): unknown;
  off?(event: 'drain', listener: () => void): unknown;
}

export interface BatchOptions {
  /** A batch is handed on once it holds this many characters... */
  minLength: number;
  /** ...or when it is this old, whichever comes first. */
  maxDelayMs: number;
  /**
   * The line handed on ahead of the first batch the target takes after it refused some (`drop`), saying how
   * many lines were lost; none when not given.
   */
  dropNotice?: (droppedLines: number) => string;
}

/**
 * Log lines gathered into one string per batch (8 KiB or 100 ms in production) before they reach
 * sonic-boom, which then writes each batch at once. sonic-boom can gather lines itself (`minLength`),
 * but it appends each line to its pending string and measures that string with `Buffer.byteLength`
 * on every write, which flattens it: a copy of everything pending, per line. At two lines a send that
 * was about 10 KB of copies per request, 8 % of everything a send allocates; an array joined once
 * per batch copies each line once.
 *
 * The lines still pending when the process exits are handed on first (`prependListener`), so the
 * exit flush that pino registers for its destination writes them: a refused start or a crash keeps
 * its last lines.
 *
 * A target whose buffer is bounded refuses batches while it is full (sonic-boom's `maxLength`, when standard
 * output is not read as fast as lines are written): their lines are counted (`droppedLines`), and the next
 * batch it takes is preceded by a line saying how many were lost (`dropNotice`).
 */
export class BatchedDestination implements DestinationStream {
  private lines: string[] = [];
  private length = 0;
  private readonly timer: NodeJS.Timeout;
  /** Lines the target refused, in all. */
  private dropped = 0;
  /** Of those, the lines no notice has reported yet. */
  private unreported = 0;

  constructor(
    private readonly target: BatchTarget,
    private readonly options: BatchOptions,
  ) {
    // One timer for the process's life, made here rather than per batch: a timer made while a request
    // is handled would keep that request's async context alive with it.
    this.timer = setInterval(() => this.handOn(), options.maxDelayMs).unref();
    process.prependListener('beforeExit', this.handOnAtExit);
    process.prependListener('exit', this.handOnAtExit);
    target.on?.('drop', (data: string) => {
      const lines = countLines(data);
      this.dropped += lines;
      this.unreported += lines;
    });
  }

  get droppedLines(): number {
    return this.dropped;
  }

  write(line: string): void {
    this.lines.push(line);
    this.length += line.length;
    if (this.length >= this.options.minLength) this.handOn();
  }

  /** pino's `logger.flush(callback)`: what is gathered, then what the target holds. */
  flush(callback: (error?: Error) => void = () => undefined): void {
    this.handOn();
    if (this.target.flush) this.target.flush(callback);
    else callback();
  }

  /**
   * Hands on what is gathered and resolves once the target has written everything it holds: true, or false when
   * `limitMs` passes first (a reader that stopped for good never takes it). Before a process exits: pino's exit
   * handler writes what is queued at once (`flushSync`), around a chunk whose asynchronous write to a full pipe is in
   * flight, which then lands out of order among the last lines, or never.
   */
  written(limitMs: number): Promise<boolean> {
    this.handOn();
    const target = this.target;
    if (target.destroyed || !target.once || !target.off) return Promise.resolve(true);
    return new Promise((resolve) => {
      const drained = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        target.off!('drain', drained);
        resolve(false);
      }, limitMs);
      target.once!('drain', drained);
      // sonic-boom emits `drain` when a write completes with nothing after it: an empty write, queued behind whatever
      // it holds (or written at once when it holds nothing), ends in one.
      target.write('');
    });
  }

  /** Stops the timer and the exit hooks, handing on what is gathered. */
  close(): void {
    this.handOn();
    clearInterval(this.timer);
    process.off('beforeExit', this.handOnAtExit);
    process.off('exit', this.handOnAtExit);
  }

  private handOn(): void {
    if (this.lines.length === 0) return;
    const batch = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.length = 0;
    // Lines written after pino ended the destination are lost, as they would be without the batches;
    // writing to it would throw, here from a timer.
    if (this.target.destroyed) return;
    const unreported = this.unreported;
    const notice = unreported > 0 ? this.options.dropNotice?.(unreported) : undefined;
    const before = this.dropped;
    this.target.write(notice === undefined ? batch : notice + batch);
    if (this.dropped === before) {
      // Taken: the notice went out with it.
      this.unreported -= unreported;
    } else if (notice !== undefined) {
      // Refused with it: the notice is no lost line of the log.
      this.dropped -= 1;
      this.unreported -= 1;
    }
  }

  private readonly handOnAtExit = (): void => this.handOn();
}

function countLines(data: string): number {
  let lines = 0;
  for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) lines++;
  return lines;
}
