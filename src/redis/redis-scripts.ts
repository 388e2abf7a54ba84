import { Cluster, Redis } from 'ioredis';
import { LOGIN_FAILURES_SCRIPTS } from '../auth/passwords/login-failures.scripts.js';
import { DELIVERY_LEDGER_SCRIPTS } from '../messaging/delivery/delivery-ledger.scripts.js';
import { WORKER_HEARTBEAT_SCRIPTS } from '../messaging/delivery/worker-heartbeat.scripts.js';
import { CONVERSION_SCRIPTS } from '../messaging/provider-conversion.scripts.js';
import { FRAUD_GUARD_SCRIPTS } from '../otp/fraud/fraud-guard.scripts.js';
import { SEND_LIMITER_SCRIPTS } from '../otp/limits/send-limiter.scripts.js';
import { THROTTLER_SCRIPTS } from '../otp/limits/throttler.scripts.js';
import { PENDING_INDEX_SCRIPTS } from '../otp/store/pending-index.scripts.js';
import { VERIFICATION_SCRIPTS } from '../otp/store/verification.scripts.js';
import type { RedisClient } from './redis-connection.js';

/** Lua commands by name, as ioredis's `scripts` option takes them. Each owner types its own in ioredis's `RedisCommander`. */
export type RedisScripts = Record<string, { lua: string; numberOfKeys: number }>;

/**
 * Every owner's scripts as one set, refusing a name given twice or one that ioredis already uses for a
 * command or a method: ioredis would let the later definition replace the other without a word. A
 * script `x` also becomes `xBuffer` on the client, so that name is taken too.
 */
export function gatherScripts(owners: Record<string, RedisScripts>): RedisScripts {
  const gathered: RedisScripts = {};
  const ownerOf = new Map<string, string>();
  for (const [owner, scripts] of Object.entries(owners)) {
    for (const [name, script] of Object.entries(scripts)) {
      for (const property of [name, `${name}Buffer`]) {
        const taken = ownerOf.get(property);
        if (taken) throw new Error(`Redis script ${name} of ${owner} collides with ${property} of ${taken}`);
        if (property in Redis.prototype || property in Cluster.prototype) {
          throw new Error(`Redis script ${name} of ${owner} would replace ioredis's own ${property}`);
        }
        ownerOf.set(property, owner);
      }
      gathered[name] = script;
    }
  }
  return gathered;
}

/**
 * Every Lua command of the service, defined on each connection as openRedis makes it (ioredis takes
 * them only then), so a conflict fails the start rather than a request. Each list sits beside the code
 * that runs it, in a module of Lua alone, so gathering them here pulls in none of their owners.
 */
export const REDIS_SCRIPTS: RedisScripts = gatherScripts({
  'the verification store': VERIFICATION_SCRIPTS,
  'the pending index': PENDING_INDEX_SCRIPTS,
  'the send limiter': SEND_LIMITER_SCRIPTS,
  'the fraud guard': FRAUD_GUARD_SCRIPTS,
  'the request throttler': THROTTLER_SCRIPTS,
  'the login failure counter': LOGIN_FAILURES_SCRIPTS,
  'the delivery workers heartbeat': WORKER_HEARTBEAT_SCRIPTS,
  'the delivery ledger': DELIVERY_LEDGER_SCRIPTS,
  'the conversion counters': CONVERSION_SCRIPTS,
});

/** For a user of scripts: a client opened some other way fails here, at construction, not at its first command. */
export function requireScripts(client: RedisClient, scripts: RedisScripts): void {
  const missing = Object.keys(scripts).filter((name) => typeof (client as unknown as Record<string, unknown>)[name] !== 'function');
  if (missing.length === 0) return;
  throw new Error(`Redis client opened without the scripts ${missing.join(', ')}: open it with openRedis or give it REDIS_SCRIPTS`);
}
