import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { BatchedDestination, type BatchTarget } from './batched-destination.js';

class RecordingTarget implements BatchTarget {
  readonly chunks: string[] = [];
  destroyed = false;
  flushes = 0;
  write(chunk: string): void {
    if (this.destroyed) throw new Error('SonicBoom destroyed');
    this.chunks.push(chunk);
  }
  flush(callback: (error?: Error) => void): void {
    this.flushes += 1;
    callback();
  }
}

describe('BatchedDestination', () => {
  let target: RecordingTarget;
  let destination: BatchedDestination;
  beforeEach(() => {
    jest.useFakeTimers();
    target = new RecordingTarget();
    destination = new BatchedDestination(target, { minLength: 120, maxDelayMs: 100 });
  });
  afterEach(() => {
    destination.close();
    jest.useRealTimers();
  });

  /** 37 characters: three stay under the minimum length, four reach it. */
  const line = (n: number) => `{"n":${n},"msg":"${'x'.repeat(20)}"}\n`;

  it('hands lines on as one batch, in order, once they reach the minimum length', () => {
    for (let n = 0; n < 3; n++) destination.write(line(n));
    expect(target.chunks).toEqual([]);
    destination.write(line(3));
    expect(target.chunks).toEqual([line(0) + line(1) + line(2) + line(3)]);
    destination.write(line(4));
    expect(target.chunks).toHaveLength(1);
  });

  it('hands on what it holds when the delay has passed, and nothing when it holds nothing', () => {
    destination.write(line(0));
    jest.advanceTimersByTime(99);
    expect(target.chunks).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(target.chunks).toEqual([line(0)]);
    jest.advanceTimersByTime(500);
    expect(target.chunks).toEqual([line(0)]);
  });

  it("flushes what it holds and then the target's own buffer", () => {
    destination.write(line(0));
    const done = jest.fn();
    destination.flush(done);
    expect(target.chunks).toEqual([line(0)]);
    expect(target.flushes).toBe(1);
    expect(done).toHaveBeenCalledTimes(1);
  });

  it('hands on what it holds when the process is about to exit, before the exit flush of the target', () => {
    destination.write(line(0));
    const listeners = process.listeners('exit');
    // Prepended: it runs before the hook pino registered for its destination, which writes synchronously.
    listeners[0]!(0);
    expect(target.chunks).toEqual([line(0)]);
    destination.write(line(1));
    process.listeners('beforeExit')[0]!(0);
    expect(target.chunks).toEqual([line(0), line(1)]);
  });

  it('drops, without throwing from its timer, what is written after the target was ended', () => {
    target.destroyed = true;
    destination.write(line(0));
    expect(() => jest.advanceTimersByTime(100)).not.toThrow();
    expect(target.chunks).toEqual([]);
  });

  it('removes its timer and exit hooks when closed, handing on what it holds', () => {
    const hooks = { exit: process.listenerCount('exit'), beforeExit: process.listenerCount('beforeExit') };
    destination.write(line(0));
    destination.close();
    expect(target.chunks).toEqual([line(0)]);
    expect(process.listenerCount('exit')).toBe(hooks.exit - 1);
    expect(process.listenerCount('beforeExit')).toBe(hooks.beforeExit - 1);
    destination.write(line(1));
    jest.advanceTimersByTime(1000);
    expect(target.chunks).toEqual([line(0)]);
  });

  it('says when the target has written all it holds, or that it has not within the limit', async () => {
    const slow = new SlowTarget();
    const waiting = new BatchedDestination(slow, { minLength: 120, maxDelayMs: 100 });
    try {
      waiting.write(line(0));
      const written = waiting.written(1_000);
      // What it gathered goes first, then the empty write that ends in the target's `drain`.
      expect(slow.chunks).toEqual([line(0), '']);
      jest.advanceTimersByTime(999);
      slow.drained();
      await expect(written).resolves.toBe(true);

      const stalled = waiting.written(1_000);
      jest.advanceTimersByTime(1_000);
      await expect(stalled).resolves.toBe(false);
      // A drain after the limit is nobody's answer.
      expect(slow.listenerCount('drain')).toBe(0);
    } finally {
      waiting.close();
    }
  });

  it('counts the lines a full target refuses, and puts a notice of them ahead of the next batch it takes', () => {
    const full = new FullTarget();
    const bounded = new BatchedDestination(full, { minLength: 120, maxDelayMs: 100, dropNotice: (lines) => `dropped ${lines}\n` });
    try {
      full.full = true;
      for (let n = 0; n < 4; n++) bounded.write(line(n));
      bounded.write(line(4));
      jest.advanceTimersByTime(100);
      expect(bounded.droppedLines).toBe(5);
      // Still full: the notice is refused with the batch, and is no lost line itself.
      bounded.write(line(5));
      jest.advanceTimersByTime(100);
      expect(bounded.droppedLines).toBe(6);
      expect(full.chunks).toEqual([]);

      full.full = false;
      bounded.write(line(6));
      jest.advanceTimersByTime(100);
      expect(full.chunks).toEqual([`dropped 6\n${line(6)}`]);
      bounded.write(line(7));
      jest.advanceTimersByTime(100);
      expect(full.chunks).toEqual([`dropped 6\n${line(6)}`, line(7)]);
      expect(bounded.droppedLines).toBe(6);
    } finally {
      bounded.close();
    }
  });
});

/** A target that writes asynchronously, as sonic-boom does: `drain` once the test says all it holds is written. */
class SlowTarget extends EventEmitter implements BatchTarget {
  readonly chunks: string[] = [];
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  drained(): void {
    this.emit('drain');
  }
}

/** A bounded target, as sonic-boom with `maxLength`: while full, it refuses each write with a `drop` event. */
class FullTarget implements BatchTarget {
  readonly chunks: string[] = [];
  full = false;
  private readonly listeners: ((data: string) => void)[] = [];
  write(chunk: string): void {
    if (this.full) this.listeners.forEach((listener) => listener(chunk));
    else this.chunks.push(chunk);
  }
  on(_event: 'drop', listener: (data: string) => void): void {
    this.listeners.push(listener);
  }
}
