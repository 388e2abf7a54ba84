import 'reflect-metadata';
import { beforeEach, jest } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SkipThrottle, Throttle, ThrottlerGuard, type ThrottlerStorage } from '@nestjs/throttler';
import { RequestRateLimitedError } from '../otp.errors.js';
import { API_KEY_THROTTLER, IP_THROTTLER, IpThrottlerGuard } from './ip-throttler.guard.js';

type Increment = ThrottlerStorage['increment'];

/** Counts in memory what the Redis storage counts in Redis, and notes each call. */
class CountingStorage implements ThrottlerStorage {
  readonly calls: { key: string; ttl: number; limit: number; blockDuration: number; name: string }[] = [];
  private readonly hits = new Map<string, number>();

  increment: Increment = async (key, ttl, limit, blockDuration, name) => {
    this.calls.push({ key, ttl, limit, blockDuration, name });
    const totalHits = (this.hits.get(key) ?? 0) + 1;
    this.hits.set(key, totalHits);
    const isBlocked = totalHits > limit;
    return { totalHits, timeToExpire: 60, isBlocked, timeToBlockExpire: isBlocked ? 60 : 0 };
  };
}

let dynamicLimitCalls = 0;

class Routes {
  plain(): void {}

  @Throttle({ [IP_THROTTLER]: { limit: 2, ttl: 30_000 } })
  strict(): void {}

  @SkipThrottle()
  skipped(): void {}

  @Throttle({ [IP_THROTTLER]: { limit: () => ++dynamicLimitCalls, ttl: 60_000 } })
  dynamic(): void {}
}

@SkipThrottle({ [API_KEY_THROTTLER]: true })
class UnkeyedRoutes {
  plain(): void {}
}

function contextFor(classRef: object, handler: () => void, request: Record<string, unknown> = {}): ExecutionContext {
  const http = { ip: '203.0.113.7', headers: {}, body: {}, ...request };
  const reply = { header: () => undefined };
  return {
    getHandler: () => handler,
    getClass: () => classRef,
    switchToHttp: () => ({ getRequest: () => http, getResponse: () => reply }),
  } as unknown as ExecutionContext;
}

async function guardWith(storage: CountingStorage, reflector = new Reflector()): Promise<IpThrottlerGuard> {
  const guard = new IpThrottlerGuard(
    {
      throttlers: [
        { name: IP_THROTTLER, ttl: 60_000, limit: 5, blockDuration: 0 },
        { name: API_KEY_THROTTLER, ttl: 60_000, limit: 100, blockDuration: 0 },
      ],
    },
    storage,
    reflector,
  );
  await guard.onModuleInit();
  return guard;
}

describe('IpThrottlerGuard', () => {
  beforeEach(() => {
    dynamicLimitCalls = 0;
  });

  it("counts a public route per client IP with the module's limits, and refuses past them", async () => {
    const storage = new CountingStorage();
    const guard = await guardWith(storage);
    const context = contextFor(Routes, Routes.prototype.plain);
    for (let i = 0; i < 5; i++) await expect(guard.canActivate(context)).resolves.toBe(true);
    await expect(guard.canActivate(context)).rejects.toBeInstanceOf(RequestRateLimitedError);
    expect(storage.calls.map(({ ttl, limit, blockDuration, name }) => ({ ttl, limit, blockDuration, name }))).toEqual(
      Array(6).fill({ ttl: 60_000, limit: 5, blockDuration: 0, name: IP_THROTTLER }),
    );
  });

  it("takes a route's own @Throttle limits, and the module's block where the route sets none", async () => {
    const storage = new CountingStorage();
    const guard = await guardWith(storage);
    const context = contextFor(Routes, Routes.prototype.strict);
    await guard.canActivate(context);
    await guard.canActivate(context);
    await expect(guard.canActivate(context)).rejects.toBeInstanceOf(RequestRateLimitedError);
    expect(storage.calls.at(-1)).toMatchObject({ limit: 2, ttl: 30_000, blockDuration: 0, name: IP_THROTTLER });
  });

  it('skips what @SkipThrottle names, on the route or on its class, and only that', async () => {
    const storage = new CountingStorage();
    const guard = await guardWith(storage);
    await guard.canActivate(contextFor(Routes, Routes.prototype.skipped, { apiKeyName: 'shop' }));
    expect(storage.calls.map(({ key, name }) => ({ key, name }))).toEqual([{ key: 'api-key:shop', name: API_KEY_THROTTLER }]);
    await guard.canActivate(contextFor(UnkeyedRoutes, UnkeyedRoutes.prototype.plain, { apiKeyName: 'shop' }));
    // The API key's throttler is skipped on the class; the IP's applies only where the backend passes clientIp.
    expect(storage.calls).toHaveLength(1);
    await guard.canActivate(
      contextFor(UnkeyedRoutes, UnkeyedRoutes.prototype.plain, { apiKeyName: 'shop', body: { clientIp: '198.51.100.9' } }),
    );
    expect(storage.calls.at(-1)).toMatchObject({ name: IP_THROTTLER });
  });

  it("reads a route's decorators once, however many requests it serves", async () => {
    const storage = new CountingStorage();
    const reflector = new Reflector();
    const lookups = jest.spyOn(reflector, 'getAllAndOverride');
    const guard = await guardWith(storage, reflector);
    const context = contextFor(Routes, Routes.prototype.plain);
    await guard.canActivate(context);
    const afterFirst = lookups.mock.calls.length;
    expect(afterFirst).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await guard.canActivate(context);
    expect(lookups.mock.calls).toHaveLength(afterFirst);
    // Another route is read on its own first request.
    await guard.canActivate(contextFor(Routes, Routes.prototype.strict));
    expect(lookups.mock.calls.length).toBeGreaterThan(afterFirst);
  });

  it('still asks a limit given as a function on every request', async () => {
    const storage = new CountingStorage();
    const guard = await guardWith(storage);
    const context = contextFor(Routes, Routes.prototype.dynamic);
    for (let i = 0; i < 3; i++) await guard.canActivate(context);
    expect(dynamicLimitCalls).toBe(3);
    expect(storage.calls.map(({ limit }) => limit)).toEqual([1, 2, 3]);
  });

  it("keys a client's count exactly as @nestjs/throttler does, so a deploy keeps everyone's count", async () => {
    const storage = new CountingStorage();
    const guard = await guardWith(storage);
    const library = new ThrottlerGuard({ throttlers: [] }, storage, new Reflector()) as unknown as {
      generateKey(context: ExecutionContext, suffix: string, name: string): string;
    };
    for (const [handler, ip] of [
      [Routes.prototype.plain, '203.0.113.7'],
      [Routes.prototype.strict, '2001:db8::1'],
      [UnkeyedRoutes.prototype.plain, '198.51.100.20'],
    ] as const) {
      const classRef = handler === UnkeyedRoutes.prototype.plain ? UnkeyedRoutes : Routes;
      const context = contextFor(classRef, handler, { ip });
      await guard.canActivate(context);
      const tracker = await guard['getTracker'](context.switchToHttp().getRequest());
      expect(storage.calls.at(-1)!.key).toBe(library.generateKey(context, tracker, IP_THROTTLER));
    }
    expect(new Set(storage.calls.map(({ key }) => key)).size).toBe(3);
  });
});
