/**
 * A counting semaphore with a bounded wait: at most `size` holders at once, and a waiter that gets
 * no slot within `maxWaitMs` is turned away (resolves `undefined`) rather than queued forever.
 */
export class HashSlots {
  private held = 0;
  private readonly waiters: Array<(release: () => void) => void> = [];

  constructor(
    readonly size: number,
    private readonly maxWaitMs: number,
  ) {}

  /** A release function once a slot is free, or `undefined` when none became free in time. */
  acquire(): Promise<(() => void) | undefined> {
    if (this.held < this.size) {
      this.held += 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => {
      const waiter = (release: () => void) => {
        clearTimeout(timer);
        resolve(release);
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve(undefined);
      }, this.maxWaitMs);
      this.waiters.push(waiter);
    });
  }

  /** Holders and waiters, for tests and diagnostics. */
  get state(): { held: number; waiting: number } {
    return { held: this.held, waiting: this.waiters.length };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Handed straight to the next waiter, so a slot never looks free to a newcomer that jumps the queue.
      const next = this.waiters.shift();
      if (next) next(this.releaser());
      else this.held -= 1;
    };
  }
}
