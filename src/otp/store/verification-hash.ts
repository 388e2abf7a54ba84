import { SEND_BUDGETS, type SendBudget } from '../limits/send-limiter.js';
import type { DeliveryState, VerificationRecord } from '../otp.types.js';

/**
 * A verification as a Redis hash: each field of the record once, with its name in the hash and how its
 * value is written and read back. The tables must cover every field of the record (the compiler holds
 * them to it), and the store's Lua scripts name no field that is not here (verification-hash.spec.ts).
 */
type HashValue = string | number;

interface Codec<T> {
  /** `undefined`: the field is left out of the hash. */
  write(value: T): HashValue | undefined;
  /** `undefined`: the field is left out of the record. */
  read(raw: string | undefined): T;
}

const text = <T extends string>(): Codec<T> => ({ write: (value) => value, read: (raw) => raw as T });
const number: Codec<number> = { write: (value) => value, read: (raw) => Number(raw) };
/** Redis has no null: an empty string stands for it. */
const nullable: Codec<string | null> = { write: (value) => value ?? '', read: (raw) => raw || null };
const optional: Codec<string | undefined> = { write: (value) => value, read: (raw) => raw };
const optionalNumber: Codec<number | undefined> = { write: (value) => value, read: (raw) => (raw === undefined ? undefined : Number(raw)) };

type Fields<R> = { [K in keyof R]-?: Codec<R[K]> };

const RECORD_FIELDS: Fields<Omit<VerificationRecord, 'delivery'>> = {
  id: text(),
  channel: text(),
  to: text(),
  purpose: text(),
  budget: {
    write: (value) => value,
    // Stored before budgets existed: the Verifications API's, so no auth flow ever completes one.
    read: (raw) => (SEND_BUDGETS.includes(raw as SendBudget) ? (raw as SendBudget) : 'api'),
  },
  locale: text(),
  status: text(),
  digest: { write: (value) => value, read: (raw) => raw ?? '' },
  createdAt: number,
  updatedAt: number,
  expiresAt: number,
  attempts: number,
  maxAttempts: number,
  sends: number,
  maxSends: number,
  lastSentAt: number,
  codeIssuer: nullable,
  deliveryPrivate: { write: (value) => (value ? 1 : undefined), read: (raw) => (raw === '1' ? true : undefined) },
  subject: optional,
};

/** The delivery's fields sit in the same hash, each under its own name. */
const DELIVERY_FIELDS: { [K in keyof DeliveryState]-?: Codec<DeliveryState[K]> & { field: string } } = {
  status: { field: 'dStatus', ...text<DeliveryState['status']>() },
  provider: { field: 'dProvider', ...nullable },
  attempts: { field: 'dAttempts', ...number },
  lastError: { field: 'dLastError', ...nullable },
  updatedAt: { field: 'dUpdatedAt', ...number },
  messageId: { field: 'dMessageId', ...optional },
  errorCode: { field: 'dErrorCode', ...optional },
  deliveredAt: { field: 'dDeliveredAt', ...optionalNumber },
};

/** Every field name a verification's hash may hold. */
export const HASH_FIELDS: readonly string[] = [...Object.keys(RECORD_FIELDS), ...Object.values(DELIVERY_FIELDS).map(({ field }) => field)];

export function toHash(record: VerificationRecord): Record<string, HashValue> {
  const hash: Record<string, HashValue> = {};
  for (const [key, codec] of entries(RECORD_FIELDS)) put(hash, key, codec.write(record[key] as never));
  for (const [key, { field, write }] of entries(DELIVERY_FIELDS)) put(hash, field, write(record.delivery[key] as never));
  return hash;
}

export function fromHash(hash: Record<string, string>): VerificationRecord {
  const delivery: Partial<Record<keyof DeliveryState, unknown>> = {};
  for (const [key, { field, read }] of entries(DELIVERY_FIELDS)) {
    const value = read(hash[field]);
    if (value !== undefined) delivery[key] = value;
  }
  const record: Partial<Record<keyof VerificationRecord, unknown>> = {};
  for (const [key, codec] of entries(RECORD_FIELDS)) {
    const value = codec.read(hash[key]);
    if (value !== undefined) record[key] = value;
  }
  record.delivery = delivery;
  return record as VerificationRecord;
}

/** A hash as HGETALL answers inside a script: field, value, field, value… */
export function fromPairs(pairs: string[]): VerificationRecord {
  const hash: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) hash[pairs[i]!] = pairs[i + 1]!;
  return fromHash(hash);
}

function put(hash: Record<string, HashValue>, field: string, value: HashValue | undefined) {
  if (value !== undefined) hash[field] = value;
}

const entries = <T extends object>(table: T) => Object.entries(table) as [keyof T & string, T[keyof T]][];
