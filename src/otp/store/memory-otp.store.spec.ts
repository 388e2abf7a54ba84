import { randomUUID } from 'node:crypto';
import type { VerificationRecord } from '../otp.types.js';
import { MAX_SETTLED_RECORDS, MemoryOtpStore } from './memory-otp.store.js';

function record(createdAt: number, overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  const id = randomUUID();
  return {
    id,
    channel: 'email',
    to: `${id}@example.com`,
    purpose: 'verify',
    budget: 'api',
    locale: 'en',
    status: 'pending',
    digest: 'd'.repeat(64),
    createdAt,
    updatedAt: createdAt,
    expiresAt: createdAt + 600_000,
    attempts: 0,
    maxAttempts: 5,
    sends: 1,
    maxSends: 5,
    lastSentAt: createdAt,
    delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: createdAt },
    codeIssuer: null,
    ...overrides,
  };
}

describe('MemoryOtpStore', () => {
  const stores: MemoryOtpStore[] = [];
  const make = (maxSettled?: number) => {
    const store = new MemoryOtpStore(maxSettled);
    stores.push(store);
    return store;
  };
  afterEach(() => stores.splice(0).forEach((store) => store.onModuleDestroy()));

  async function stored(store: MemoryOtpStore, ids: string[]): Promise<string[]> {
    const found = await Promise.all(ids.map((id) => store.get(id)));
    return ids.filter((_, i) => found[i] !== undefined);
  }

  it('keeps at most its cap of settled verifications, evicting the oldest first', async () => {
    const store = make(100);
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const r = record(now + i);
      await store.createPending(r);
      await store.cancel(r.id, now + i);
      ids.push(r.id);
    }
    expect(await stored(store, ids)).toEqual(ids.slice(-100));
  });

  it('never evicts a pending verification, however many settle after it', async () => {
    const store = make(10);
    const now = Date.now();
    const waiting = record(now, { expiresAt: now + 3_600_000 });
    await store.createPending(waiting);
    const settled: string[] = [];
    for (let i = 1; i <= 200; i++) {
      const r = record(now + i);
      await store.createPending(r);
      await store.cancel(r.id, now + i);
      settled.push(r.id);
    }
    expect(await store.get(waiting.id)).toMatchObject({ status: 'pending' });
    expect(await store.findPendingId(waiting.to, 'verify', 'api', now + 300)).toBe(waiting.id);
    expect(await stored(store, settled)).toEqual(settled.slice(-10));
  });

  it('counts a pending verification past its expiry as settled', async () => {
    const store = make(10);
    const now = Date.now();
    const expired = record(now, { expiresAt: now + 1 });
    await store.createPending(expired);
    const later: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const r = record(now + 10 + i);
      await store.createPending(r);
      await store.cancel(r.id, now + 10 + i);
      later.push(r.id);
    }
    expect(await store.get(expired.id)).toBeUndefined();
    expect(await stored(store, later)).toEqual(later);
    // Its destination and purpose are free again.
    expect(await store.createPending(record(now + 100, { to: expired.to }))).toEqual({ created: true });
  });

  it('keeps settled verifications readable up to a large default cap', async () => {
    expect(MAX_SETTLED_RECORDS).toBeGreaterThanOrEqual(50_000);
    const store = make();
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const r = record(now + i);
      await store.createPending(r);
      await store.cancel(r.id, now + i);
      ids.push(r.id);
    }
    expect(await stored(store, ids)).toHaveLength(2000);
  });
});
