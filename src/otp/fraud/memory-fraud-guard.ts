import { Injectable } from '@nestjs/common';
import type {
  CountedSend,
  CountrySuspension,
  FraudGuard,
  GuardedSend,
  GuardLimits,
  GuardOverview,
  GuardVerdict,
  ThrottleReason,
} from './fraud-guard.js';
import { WINDOW_MS } from './fraud-guard.js';

interface Counter {
  count: number;
  resetsAt: number;
}

/** A country's last hour: when each sampled send went out, and each approval under the time of its send. */
interface CountryWindow {
  sends: number[];
  approvals: Map<string, number>;
  /** Sends before this were forgotten (a suspension or a lift): their approvals are not counted either. */
  since: number;
}

/** How often ended counters and idle windows are dropped; dropping them never lifts a live limit. */
const SWEEP_INTERVAL_MS = 60_000;

/** The hourly counters a send counts in, each with its cap (0: none). */
function capsOf(send: GuardedSend, limits: GuardLimits): { reason: ThrottleReason; key: string; cap: number }[] {
  const caps: { reason: ThrottleReason; key: string; cap: number }[] = [
    { reason: 'channel', key: `channel:${send.channel}`, cap: limits.channelPerHour },
  ];
  if (send.country !== undefined) caps.push({ reason: 'country', key: `country:${send.country}`, cap: limits.countryPerHour });
  if (send.prefix !== undefined) caps.push({ reason: 'prefix', key: `prefix:${send.prefix}`, cap: limits.prefixPerHour });
  return caps;
}

/** Embedded mode: the same windows and rule as the Redis guard, in this process. */
@Injectable()
export class MemoryFraudGuard implements FraudGuard {
  private readonly counters = new Map<string, Counter>();
  private readonly windows = new Map<string, CountryWindow>();
  private readonly suspensions = new Map<string, CountrySuspension>();
  private lastSweep = 0;

  async admit(send: GuardedSend, limits: GuardLimits, now: number): Promise<GuardVerdict> {
    this.sweep(now);
    const { country } = send;
    if (country !== undefined) {
      const suspension = this.suspensions.get(country);
      if (suspension && suspension.until > now) return { allowed: false, reason: 'suspended', retryAfterMs: suspension.until - now };
      const judged = this.judge(country, limits, now);
      if (judged) {
        this.suspensions.set(country, { country, since: now, until: now + limits.suspendMs, ...judged });
        this.windows.set(country, { sends: [], approvals: new Map(), since: now });
        return { allowed: false, reason: 'suspended', retryAfterMs: limits.suspendMs, started: judged };
      }
    }
    const capped = capsOf(send, limits);
    let refusal: { reason: ThrottleReason; retryAfterMs: number } | undefined;
    for (const { reason, key, cap } of capped) {
      if (cap <= 0) continue;
      const counter = this.counter(key, now);
      if (counter.count >= cap && (!refusal || counter.resetsAt - now > refusal.retryAfterMs))
        refusal = { reason, retryAfterMs: counter.resetsAt - now };
    }
    if (refusal) return { allowed: false, ...refusal };
    for (const { key, cap } of capped) if (cap > 0) this.counter(key, now).count += 1;
    if (country !== undefined && send.sampled) this.window(country, now).sends.push(now);
    return { allowed: true, counted: { send, limits, at: now } };
  }

  async refund({ send, limits, at }: CountedSend): Promise<void> {
    const { country } = send;
    for (const { key, cap } of capsOf(send, limits)) {
      const counter = this.counters.get(key);
      // A counter started after the send is another hour's.
      if (cap > 0 && counter && counter.resetsAt - WINDOW_MS <= at && counter.count > 0) counter.count -= 1;
    }
    if (country === undefined || !send.sampled) return;
    const sends = this.windows.get(country)?.sends;
    const index = sends?.lastIndexOf(at) ?? -1;
    if (index >= 0) sends!.splice(index, 1);
  }

  async recordApproval(country: string, id: string, sentAt: number, now: number): Promise<void> {
    const window = this.windows.get(country);
    if (!window || sentAt < window.since || sentAt <= now - WINDOW_MS) return;
    window.approvals.set(id, sentAt);
  }

  async overview(now: number): Promise<GuardOverview> {
    this.sweep(now, true);
    const suspensions = [...this.suspensions.values()].filter((s) => s.until > now).sort((a, b) => a.country.localeCompare(b.country));
    const countries = [...this.windows]
      .map(([country, window]) => ({ country, sends: this.trimmed(window, now).sends.length, approved: window.approvals.size }))
      .filter((entry) => entry.sends > 0 || entry.approved > 0)
      .sort((a, b) => a.country.localeCompare(b.country));
    return { suspensions, countries };
  }

  async lift(country: string, now: number): Promise<void> {
    this.suspensions.delete(country);
    this.windows.set(country, { sends: [], approvals: new Map(), since: now });
  }

  /** The evidence for suspending `country` now, or undefined while its rate is good enough or too few sends are old enough to judge. */
  private judge(country: string, limits: GuardLimits, now: number) {
    if (limits.minConversion <= 0) return undefined;
    const window = this.windows.get(country);
    if (!window) return undefined;
    this.trimmed(window, now);
    const settled = now - limits.graceMs;
    const sends = window.sends.filter((at) => at <= settled).length;
    if (sends < limits.minSample) return undefined;
    const approved = [...window.approvals.values()].filter((at) => at <= settled).length;
    return approved < limits.minConversion * sends ? { sends, approved } : undefined;
  }

  private trimmed(window: CountryWindow, now: number): CountryWindow {
    const start = now - WINDOW_MS;
    const firstKept = window.sends.findIndex((at) => at > start);
    window.sends.splice(0, firstKept === -1 ? window.sends.length : firstKept);
    for (const [id, at] of window.approvals) if (at <= start) window.approvals.delete(id);
    return window;
  }

  private window(country: string, now: number): CountryWindow {
    let window = this.windows.get(country);
    if (!window) this.windows.set(country, (window = { sends: [], approvals: new Map(), since: now - WINDOW_MS }));
    return window;
  }

  private counter(key: string, now: number): Counter {
    let counter = this.counters.get(key);
    if (!counter || counter.resetsAt <= now) this.counters.set(key, (counter = { count: 0, resetsAt: now + WINDOW_MS }));
    return counter;
  }

  private sweep(now: number, force = false): void {
    if (!force && now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, counter] of this.counters) if (counter.resetsAt <= now) this.counters.delete(key);
    for (const [country, suspension] of this.suspensions) if (suspension.until <= now) this.suspensions.delete(country);
    for (const [country, window] of this.windows) {
      if (this.trimmed(window, now).sends.length === 0 && window.approvals.size === 0 && window.since <= now - WINDOW_MS)
        this.windows.delete(country);
    }
  }
}
