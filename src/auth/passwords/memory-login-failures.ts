import { Injectable } from '@nestjs/common';
import type { LoginFailures } from './login-failures.js';

interface Window {
  count: number;
  endsAt: number;
}

/** Embedded mode: the same fixed windows as the Redis counter, in this process. */
@Injectable()
export class MemoryLoginFailures implements LoginFailures {
  private readonly windows = new Map<string, Window>();

  async blockedForMs(key: string, max: number, now = Date.now()): Promise<number> {
    const window = this.current(key, now);
    return window && window.count >= max ? window.endsAt - now : 0;
  }

  async record(key: string, windowMs: number, now = Date.now()): Promise<void> {
    this.forgetEnded(now);
    const window = this.current(key, now) ?? { count: 0, endsAt: now + windowMs };
    window.count += 1;
    this.windows.set(key, window);
  }

  async clear(key: string): Promise<void> {
    this.windows.delete(key);
  }

  private current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    return window && window.endsAt > now ? window : undefined;
  }

  /** Identifiers are chosen by strangers: ended windows are dropped once there are many of them. */
  private forgetEnded(now: number): void {
    if (this.windows.size < 10_000) return;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}
