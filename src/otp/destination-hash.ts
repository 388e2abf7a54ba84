import type { SendBudget } from './limits/send-limiter.js';

/**
 * What Redis keeps per destination, in one small hash `otp:{d:<to>}`: the send limits of each budget
 * (RedisSendLimiter) and the pending index (RedisOtpStore). One key instead of a string per counter
 * and per index entry costs a fraction of the memory, and lets one script look up the pending
 * verification and count a send together. Every key of a destination shares the hash tag `{d:<to>}`,
 * so each script touches one slot and runs unchanged on Redis Cluster.
 *
 * Fields, short because they are repeated for every destination (`<b>` is the budget's letter):
 * - `<b>c`: when the budget's resend cooldown ends;
 * - `<b>h`, `<b>hw`: sends counted in the hourly window, and when that window ends;
 * - `<b>d`, `<b>dw`: the same for the daily window.
 * Redis 7.0 has no expiry per field, so a window is over when its end has passed, whatever the
 * field still says, and the next send opens a new one. The key expires with the last of its windows
 * and pending entries.
 * - `<b>:<purpose>` or `<b>:<purpose>:s:<subject>` (purposes hold no `:`; the subject as `entryId` writes
 *   it): the pending verification of that purpose, budget and subject, as `<expiresAt>:<id>` (the id as
 *   `entryId` writes it). Only ever a hint: an entry whose expiresAt has passed counts as absent, and a
 *   live one is re-checked against the verification.
 *
 * Each of these times (cooldown and window ends, an entry's expiresAt) is written in whole seconds since
 * the epoch, which Redis keeps in 4 bytes where milliseconds take 8, and takes a destination's hash a size
 * class down. A cooldown's or a window's end is rounded down (`floorSeconds` in Lua): a limit then never
 * outlasts what the API announced of it (`resendAvailableAt`, `Retry-After`), and ends less than a second
 * early. An entry's expiry is rounded up (`ceilSeconds`): the hint never lapses before its verification,
 * which is re-checked anyway. Earlier versions wrote milliseconds, and the previous one read both: so does
 * this one (`msOf`, and `ms` in Lua: a time below 10^11 is in seconds, any in milliseconds since 1973 is
 * above), so every limit holds through a rolling update.
 */
export const destinationKey = (to: string) => `otp:{d:${to}}`;

export const BUDGET_LETTERS: Readonly<Record<SendBudget, string>> = { api: 'a', anonymous: 'n', proven: 'p' };

export const budgetLetter = (budget: SendBudget) => BUDGET_LETTERS[budget];

/** Every send-limit field of a budget, for clearing them; the cooldown's first. */
export const limitFieldsOf = (budget: SendBudget) => ['c', 'h', 'hw', 'd', 'dw'].map((field) => `${BUDGET_LETTERS[budget]}${field}`);

export const cooldownFieldOf = (budget: SendBudget) => limitFieldsOf(budget)[0]!;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMPACT_UUID = /^[A-Za-z0-9_-]{22}$/;

/**
 * A verification id as a pending entry holds it: a UUID (as every id is, `randomUUID`) in base64url, 22
 * characters instead of 36, which takes most hashes a size class down; anything else as it is, which
 * `verificationIdOf` reads back unless it looks like a compacted UUID (22 base64url characters).
 */
export function entryId(id: string): string {
  return UUID.test(id) ? Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url') : id;
}

/** The verification id an entry's id stands for. */
export function verificationIdOf(stored: string): string {
  if (!COMPACT_UUID.test(stored)) return stored;
  const hex = Buffer.from(stored, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The subject (an account id, a UUID) compacted as ids are, which keeps the field within a listpack's 64 bytes. */
export const pendingField = (purpose: string, budget: SendBudget, subject?: string) =>
  subject === undefined ? `${BUDGET_LETTERS[budget]}:${purpose}` : `${BUDGET_LETTERS[budget]}:${purpose}:s:${entryId(subject)}`;

/** Times in milliseconds since 1973 are above this; times in seconds below it until the year 5138. */
const SECONDS_BELOW = 1e11;

/** A time the hash holds, in milliseconds, whether it was written in seconds or (by earlier versions) milliseconds. */
export function msOf(stored: number): number {
  return stored < SECONDS_BELOW ? stored * 1000 : stored;
}

/** The id a pending entry names while its code has not expired at `now`, if any. */
export function livePendingId(entry: string | null | undefined, now: number): string | undefined {
  if (!entry) return undefined;
  const colon = entry.indexOf(':');
  return colon > 0 && msOf(Number(entry.slice(0, colon))) > now ? verificationIdOf(entry.slice(colon + 1)) : undefined;
}

/**
 * For the scripts that keep the hash. `ms(v)`: a stored time (or nil) in milliseconds, as `msOf`;
 * `floorSeconds(at)`, `ceilSeconds(at)`: a time in milliseconds in whole seconds, rounded down or up. `entry(id,
 * expiresAt)`: a pending entry's value; `parse(entry)` its expiresAt and id. `live(entry, now)`: the id it
 * names while live, or nil. `extend(key, at, now)`: the key lives at least until `at` (rounded up to the
 * second, as the hash holds it), never shorter than it already does.
 */
export const DESTINATION_HASH_LUA = `
local function ms(v)
  v = tonumber(v)
  if v and v < ${SECONDS_BELOW} then return v * 1000 end
  return v
end
local function floorSeconds(at)
  return math.floor(tonumber(at) / 1000)
end
local function ceilSeconds(at)
  return math.ceil(tonumber(at) / 1000)
end
local function entry(id, expiresAt)
  return ceilSeconds(expiresAt) .. ':' .. id
end
local function parse(value)
  if not value then return nil end
  return string.match(value, '^(%d+):(.+)$')
end
local function live(value, now)
  local at, id = parse(value)
  if at and ms(at) > now then return id end
  return nil
end
local function extend(key, at, now)
  local want = ceilSeconds(at) * 1000 - now
  if want > 0 and redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, want) end
end
`;

/**
 * The per-budget keys the previous version kept (a string each for the cooldown and the hour and day
 * counts). Only read, by the send limiter's consume script, so that sends counted by replicas of the
 * previous version during a rolling deploy still count; and cleared with the rest by `reset`.
 */
export const legacyBudgetKeysOf = (to: string, budget: SendBudget) =>
  [`${destinationKey(to)}:${budget}:cooldown`, `${destinationKey(to)}:${budget}:hour`, `${destinationKey(to)}:${budget}:day`] as const;
