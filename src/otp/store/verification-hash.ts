import type { Channel, ProviderId } from '../../config/configuration.types.js';
import type { TEST_DESTINATION_PROVIDER } from '../destinations/destination-policy.js';
import { BUDGET_LETTERS } from '../destination-hash.js';
import { SEND_BUDGETS, type SendBudget } from '../limits/send-limiter.js';
import type { DeliveryState, DeliveryStatus, VerificationRecord, VerificationStatus } from '../otp.types.js';

/**
 * A verification as a Redis hash: each field of the record once, under a short name, with how its
 * value is written and read back. The tables must cover every field of the record (the compiler holds
 * them to it), and the store's Lua scripts take their field names from here (verification-hash.spec.ts
 * checks they name no other).
 *
 * Compact, because Redis keeps one such hash per verification for its code's lifetime and a day more:
 * one-letter names; no id (the key names it); the digest as its bytes rather than hex characters;
 * no field for a null; and every time but `createdAt` as milliseconds since it, a small integer in the
 * hash's listpack where the epoch milliseconds take 10 bytes. The whole hash stays a listpack (each
 * value within `hash-max-listpack-value`, 64 bytes, as before). The delivery ledger marks each send
 * that went out by a field of its own in the same hash (`SENT_MARK_PREFIX` and the send): no field here
 * starts so, and nothing here reads, rewrites or deletes those.
 *
 * Hashes written before this layout name each field in full (`status`, `expiresAt`, `dStatus`…), hold
 * the verification's `id`, the digest in hex and absolute times. `legacy` and `form` say how each
 * field was stored there: the store reads such a hash as it is, and its scripts rewrite it in this
 * layout the first time they touch it (`layoutLua`).
 *
 * Each later layout step was read by one version and written only from the next (a replica must read a
 * layout before any replica writes it, so a rolling update never mixes a writer with a replica that cannot
 * read what it wrote), and what each earlier step wrote is read for as long as it lives:
 * - one-letter codes for the channel, the budget and both statuses (`SHORT_CODES`), no field for a counter or
 *   a time of 0, and the code's digest as `shortDigestCode` gives it (16 bytes, over the id and code alone);
 *   its key and id: verification-key.ts. Still read: a value in full, a zero written out, a 32-byte digest
 *   (`matchesCandidate` tells the two digests apart by length, in Lua too), and the scripts decode a status
 *   either way (`codesLua`);
 * - written since the previous version: no locale field for the default one (`UNWRITTEN_LOCALE`), and the
 *   delivery's provider as its one-letter code (`SHORT_CODES.provider`). Still read: a locale written out, a
 *   provider in full. Together they keep the hash of a verification whose delivery was recorded seconds or
 *   minutes after its send (a delivery receipt, a queue that backed up) in the allocation size of one delivered
 *   at once: `npm run bench:layout`, 150 s, 618 → 586 B per verification with the benchmark's 44-character
 *   addresses;
 * - written since this version (the previous one reads it): the five one-letter codes (channel, budget, status,
 *   the delivery's status and provider) together in one field (`PACKED_CODES`), where five fields of their own
 *   take 22 bytes more of the hash's listpack, and in it a mark for a delivery that last changed when the
 *   verification did, which then needs no time of its own (5 to 8 bytes). That takes a delivered email
 *   verification's hash a Redis allocation size down (its listpack from the 192-byte class to the 160-byte one
 *   with the benchmark's addresses, delivered at once or minutes later): 586 → 554 B per verification. Still
 *   read: each code in its own field and the delivery's time written out, as the previous version wrote them
 *   (and writes them again when it changes a hash of this layout during a rolling update); the scripts pack such
 *   a hash the first time they touch it (`layoutLua`), and a read takes it as it is (`unpackCodes`).
 */
export type HashValue = string | number | Buffer;

/** How a value of the earlier layout becomes one of this layout. */
type Form = 'same' | 'time' | 'digest';

interface Field<T> {
  /** The name in the hash. */
  field: string;
  /** The name in hashes written before this layout. */
  legacy: string;
  form: Form;
  /** `undefined`: the field is left out of the hash. */
  write(value: T, record: VerificationRecord): HashValue | undefined;
  /** `undefined`: the field is left out of the record. */
  read(raw: Buffer | undefined, createdAt: number): T;
}

type Codec<T> = Pick<Field<T>, 'form' | 'write' | 'read'>;

const str = (raw: Buffer | undefined) => raw?.toString();

/**
 * A count or a time as the hash holds it, read as `Number(str(raw))` does: its decimal digits summed here, where
 * decoding them to a string first was a call into Buffer's decoder for each of a record's dozen numbers. Anything
 * but up to 15 digits (a sign, a value written by hand) is read by `Number` itself.
 */
function numeric(raw: Buffer): number {
  if (raw.length > 15) return Number(raw.toString());
  let value = 0;
  for (let i = 0; i < raw.length; i++) {
    const digit = raw[i]! - 48;
    if (digit < 0 || digit > 9) return Number(raw.toString());
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The one-letter code written for each enumerated value (none is a letter long, so a value written in
 * full by an earlier version reads as itself). Each table's codes are distinct. The provider's: each of the
 * delivery's providers, and the test destinations' mark.
 */
export const SHORT_CODES = {
  channel: { email: 'e', sms: 's', whatsapp: 'w' } satisfies Record<Channel, string>,
  // The letters the destination's hash already names each budget by.
  budget: BUDGET_LETTERS,
  status: { pending: 'p', approved: 'a', expired: 'e', canceled: 'c', max_attempts: 'm', failed: 'f' } satisfies Record<
    VerificationStatus,
    string
  >,
  deliveryStatus: { queued: 'q', sending: 'i', sent: 's', delivered: 'd', undelivered: 'u', failed: 'f' } satisfies Record<
    DeliveryStatus,
    string
  >,
  provider: {
    smtp: 'm',
    ses: 'e',
    sendgrid: 'g',
    console: 'c',
    'twilio-verify': 'v',
    twilio: 't',
    sns: 'n',
    'twilio-whatsapp': 'w',
    'test-destination': 'x',
  } satisfies Record<ProviderId | typeof TEST_DESTINATION_PROVIDER, string>,
} as const;

/** The locale no field is written for, and a hash without one reads as: the Verifications API's default and the auth flows' one. */
export const UNWRITTEN_LOCALE = 'en';

/** code → value of each table. */
const DECODE = Object.fromEntries(
  Object.entries(SHORT_CODES).map(([name, codes]) => [
    name,
    Object.fromEntries(Object.entries(codes).map(([value, code]) => [code, value])),
  ]),
) as Record<keyof typeof SHORT_CODES, Record<string, string>>;

/** A value of the table as a hash holds it, in full or as its code; `undefined` for none. */
const decode = (table: keyof typeof DECODE, value: string | undefined) =>
  value === undefined ? undefined : (DECODE[table][value] ?? value);

/** A value of the table as its code (a value the table does not know, in full). */
export const encode = (table: keyof typeof SHORT_CODES, value: string): string =>
  (SHORT_CODES[table] as Record<string, string>)[value] ?? value;

/** An enumerated value, written as its code; read as its code or in full. */
const coded = <T extends string>(table: keyof typeof SHORT_CODES): Codec<T> => ({
  form: 'same',
  write: (value) => encode(table, value),
  read: (raw) => decode(table, str(raw)) as T,
});
const text = <T extends string>(): Codec<T> => ({ form: 'same', write: (value) => value, read: (raw) => str(raw) as T });
/** A count; no field reads as 0. */
const number: Codec<number> = { form: 'same', write: (value) => value, read: (raw) => (raw === undefined ? 0 : numeric(raw)) };
/** A null is no field (hashes of the earlier layout, and older scripts, wrote an empty string: read as null too). */
const nullable: Codec<string | null> = { form: 'same', write: (value) => value || undefined, read: (raw) => str(raw) || null };
const optional: Codec<string | undefined> = { form: 'same', write: (value) => value, read: (raw) => str(raw) };
/** A time as milliseconds since the verification was created; no field reads as its creation. */
const time: Codec<number> = {
  form: 'time',
  write: (value, record) => value - record.createdAt,
  read: (raw, createdAt) => createdAt + (raw === undefined ? 0 : numeric(raw)),
};
/** The codec, with no field for a value it writes as 0 (a counter of 0, a time at creation), which it reads as 0. */
const zeroless = <T>(codec: Codec<T>): Codec<T> => ({
  ...codec,
  write: (value, record) => {
    const written = codec.write(value, record);
    return written === 0 ? undefined : written;
  },
});
const optionalTime: Codec<number | undefined> = {
  form: 'time',
  write: (value, record) => (value === undefined ? undefined : value - record.createdAt),
  read: (raw, createdAt) => (raw === undefined ? undefined : createdAt + numeric(raw)),
};
/** The digest's bytes (16, or 32 as the previous version wrote it); empty once the verification is settled. */
const digest: Codec<string> = {
  form: 'digest',
  write: (value) => (value === '' ? '' : packDigest(value)),
  read: (raw) => raw?.toString('hex') ?? '',
};

const at = <T>(field: string, legacy: string, codec: Codec<T>): Field<T> => ({ field, legacy, ...codec });

type Fields<R> = { [K in keyof R]-?: Field<R[K]> };

const RECORD_FIELDS: Fields<Omit<VerificationRecord, 'id' | 'delivery'>> = {
  channel: at('k', 'channel', coded('channel')),
  to: at('t', 'to', text()),
  purpose: at('p', 'purpose', text()),
  budget: at('b', 'budget', {
    ...coded<SendBudget>('budget'),
    // Stored before budgets existed: the Verifications API's, so no auth flow ever completes one.
    read: (raw) => {
      const value = decode('budget', str(raw)) as SendBudget;
      return SEND_BUDGETS.includes(value) ? value : 'api';
    },
  }),
  locale: at('l', 'locale', {
    form: 'same',
    write: (value) => (value === UNWRITTEN_LOCALE ? undefined : value),
    read: (raw) => str(raw) ?? UNWRITTEN_LOCALE,
  }),
  status: at('s', 'status', coded('status')),
  digest: at('g', 'digest', digest),
  createdAt: at('c', 'createdAt', number),
  updatedAt: at('u', 'updatedAt', zeroless(time)),
  expiresAt: at('e', 'expiresAt', time),
  attempts: at('a', 'attempts', zeroless(number)),
  maxAttempts: at('A', 'maxAttempts', number),
  sends: at('n', 'sends', zeroless(number)),
  maxSends: at('N', 'maxSends', zeroless(number)),
  lastSentAt: at('r', 'lastSentAt', zeroless(time)),
  codeIssuer: at('i', 'codeIssuer', nullable),
  deliveryPrivate: at('x', 'deliveryPrivate', {
    form: 'same',
    write: (value) => (value ? 1 : undefined),
    read: (raw) => (str(raw) === '1' ? true : undefined),
  }),
  subject: at('w', 'subject', optional),
};

/** The delivery's fields sit in the same hash, each under its own name. */
const DELIVERY_FIELDS: Fields<DeliveryState> = {
  status: at('ds', 'dStatus', coded('deliveryStatus')),
  provider: at('dp', 'dProvider', {
    form: 'same',
    write: (value) => (value ? encode('provider', value) : undefined),
    read: (raw) => decode('provider', str(raw)) || null,
  }),
  attempts: at('da', 'dAttempts', zeroless(number)),
  lastError: at('de', 'dLastError', nullable),
  updatedAt: at('du', 'dUpdatedAt', zeroless(time)),
  messageId: at('dm', 'dMessageId', optional),
  errorCode: at('dc', 'dErrorCode', optional),
  deliveredAt: at('dd', 'dDeliveredAt', optionalTime),
};

// Taken once: every read of a verification walks them.
const RECORD_ENTRIES = entries(RECORD_FIELDS);
const DELIVERY_ENTRIES = entries(DELIVERY_FIELDS);

/** Each field's name in the hash, for the scripts. */
export const FIELD = names(RECORD_FIELDS);
export const DELIVERY_FIELD = names(DELIVERY_FIELDS);

/** Each packed field (PACKED_CODES), in order, with the table of `SHORT_CODES` its codes come from. */
const PACKED_TABLES = [
  [FIELD.channel, 'channel'],
  [FIELD.budget, 'budget'],
  [FIELD.status, 'status'],
  [DELIVERY_FIELD.status, 'deliveryStatus'],
  [DELIVERY_FIELD.provider, 'provider'],
] as const satisfies readonly (readonly [string, keyof typeof SHORT_CODES])[];

/**
 * The codes a hash may hold together in one field (`field`), one character each, in `order`; `none` for a code
 * not held there (a value without a code, in its own field, or no value: a delivery without a provider yet).
 * Every table of `SHORT_CODES` these fields use has codes one character long, and none of them is `none`.
 * After the codes, `sameUpdate` says that the delivery last changed when the verification did (a delivery
 * report changes both): the delivery's `updatedAt` is then no field of its own, but the verification's.
 */
export const PACKED_CODES = {
  field: 'f',
  order: PACKED_TABLES.map(([field]) => field),
  none: '-',
  sameUpdate: '=',
} as const;

/** Every field name a verification's hash may hold. */
export const HASH_FIELDS: readonly string[] = [...Object.values(FIELD), ...Object.values(DELIVERY_FIELD), PACKED_CODES.field];

/** The code `field` holds in a packed field's value (PACKED_CODES), if it holds one there. */
export function packedCode(packed: string | Buffer | null | undefined, field: (typeof PACKED_CODES.order)[number]): string | undefined {
  if (packed === null || packed === undefined) return undefined;
  return codeAt(packed.toString(), PACKED_CODES.order.indexOf(field));
}

/** The code at a position of the packed field's text, if one is held there. */
function codeAt(packed: string, position: number): string | undefined {
  const code = packed.charAt(position);
  return code === '' || code === PACKED_CODES.none ? undefined : code;
}

/** A hash holding packed codes (PACKED_CODES) as one holding each in its own field, for a read: as `hmget` (layoutLua) answers. */
export function unpackCodes(stored: Record<string, Buffer>): Record<string, Buffer> {
  const { [PACKED_CODES.field]: packedField, ...hash } = stored;
  // Decoded once, not once per code: every read of a verification comes through here.
  const packed = packedField?.toString() ?? '';
  PACKED_CODES.order.forEach((field, position) => {
    const code = codeAt(packed, position);
    if (code !== undefined) hash[field] = codeBytes(code);
  });
  const updated = hash[FIELD.updatedAt];
  if (packed.charAt(PACKED_CODES.order.length) === PACKED_CODES.sameUpdate && updated !== undefined) {
    hash[DELIVERY_FIELD.updatedAt] = updated;
  }
  return hash;
}

/** One buffer per ASCII code, made once and only ever read (`str`), where each read made five new ones. */
const ASCII_CODE_BYTES: Buffer[] = [];

function codeBytes(code: string): Buffer {
  const charCode = code.charCodeAt(0);
  if (charCode > 0x7f) return Buffer.from(code);
  return (ASCII_CODE_BYTES[charCode] ??= Buffer.from(code));
}

/** The field only a hash of the earlier layout has. */
const LEGACY_MARK = 'id';
const ALL_FIELDS = [...Object.values(RECORD_FIELDS), ...Object.values(DELIVERY_FIELDS)] as Field<unknown>[];

export function toHash(record: VerificationRecord): Record<string, HashValue> {
  const hash: Record<string, HashValue> = {};
  for (const [key, { field, write }] of RECORD_ENTRIES) put(hash, field, write(record[key] as never, record));
  for (const [key, { field, write }] of DELIVERY_ENTRIES) put(hash, field, write(record.delivery[key] as never, record));
  return packCodes(hash);
}

/**
 * `hash` with each one-character code moved into the packed field (PACKED_CODES), and the mark in place of the
 * delivery's time when it is the verification's.
 */
function packCodes(hash: Record<string, HashValue>): Record<string, HashValue> {
  let packed = '';
  for (const field of PACKED_CODES.order) {
    const value = hash[field];
    const code = typeof value === 'string' && value.length === 1 && value !== PACKED_CODES.none ? value : undefined;
    packed += code ?? PACKED_CODES.none;
    if (code !== undefined) delete hash[field];
  }
  const deliveryUpdated = hash[DELIVERY_FIELD.updatedAt];
  const sameUpdate = deliveryUpdated !== undefined && String(deliveryUpdated) === String(hash[FIELD.updatedAt]);
  if (sameUpdate) delete hash[DELIVERY_FIELD.updatedAt];
  hash[PACKED_CODES.field] = sameUpdate ? packed + PACKED_CODES.sameUpdate : packed;
  return hash;
}

/** The verification `id`'s hash as Redis answers it (values as bytes), of either layout; `undefined` when there is none. */
export function fromHash(id: string, stored: Record<string, Buffer>): VerificationRecord | undefined {
  const unpacked = stored[PACKED_CODES.field] === undefined ? stored : unpackCodes(stored);
  const hash = unpacked[LEGACY_MARK] === undefined ? unpacked : upgrade(unpacked);
  const created = hash[FIELD.createdAt];
  if (created === undefined) return undefined;
  const createdAt = Number(created.toString());
  const delivery: Partial<Record<keyof DeliveryState, unknown>> = {};
  for (const [key, { field, read }] of DELIVERY_ENTRIES) {
    const value = read(hash[field], createdAt);
    if (value !== undefined) delivery[key] = value;
  }
  const record: Partial<Record<keyof VerificationRecord, unknown>> = { id };
  for (const [key, { field, read }] of RECORD_ENTRIES) {
    const value = read(hash[field], createdAt);
    if (value !== undefined) record[key] = value;
  }
  record.delivery = delivery;
  return record as VerificationRecord;
}

/**
 * A field's name: ASCII, so read as latin1 without UTF-8 decoding, and this layout's (one or two letters)
 * without a call into Buffer's decoder at all.
 */
function fieldName(raw: Buffer): string {
  if (raw.length === 1) return String.fromCharCode(raw[0]!);
  if (raw.length === 2) return String.fromCharCode(raw[0]!, raw[1]!);
  return raw.toString('latin1');
}

/** A hash as HGETALL answers inside a script: field, value, field, value… */
export function fromPairs(id: string, pairs: Buffer[]): VerificationRecord | undefined {
  const hash: Record<string, Buffer> = {};
  for (let i = 0; i < pairs.length; i += 2) hash[fieldName(pairs[i]!)] = pairs[i + 1]!;
  return fromHash(id, hash);
}

/**
 * A digest (lower-case hex, as shortDigestCode or digestCode give it) as the bytes the hash holds and a check compares.
 * Anything else is no digest: a candidate that is not one is given as empty, which never matches, as
 * it never matched a stored hex digest before.
 */
export function packDigest(hex: string): Buffer {
  return /^(?:[0-9a-f]{2})+$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(0);
}

/** A verification's status as its hash holds it, in full or as its code (`undefined` for none). */
export function statusOf(raw: string | null | undefined): VerificationStatus | undefined {
  return decode('status', raw ?? undefined) as VerificationStatus | undefined;
}

/**
 * Lua: `status(v)` and `dstatus(v)`, the verification's and its delivery's status in full, whether the
 * hash holds its code or (written by the previous version) the status in full (nil stays nil), for the
 * scripts that decide on them; `dcode(v)`, a delivery status's code, for the scripts that write one.
 */
export function codesLua(): string {
  const table = (name: keyof typeof SHORT_CODES) =>
    Object.entries(DECODE[name])
      .map(([code, value]) => `${code} = '${value}'`)
      .join(', ');
  return `
local STATUS_CODES = {${table('status')}}
local DELIVERY_STATUS_CODES = {${table('deliveryStatus')}}
local function status(v) return v and (STATUS_CODES[v] or v) end
local function dstatus(v) return v and (DELIVERY_STATUS_CODES[v] or v) end
local DELIVERY_STATUS_CODE = {${Object.entries(SHORT_CODES.deliveryStatus)
    .map(([value, code]) => `${value} = '${code}'`)
    .join(', ')}}
local function dcode(v) return DELIVERY_STATUS_CODE[v] or v end
`;
}

/** A hash of the earlier layout in this one: what `upgrade` (layoutLua) does in Redis, for a read that writes nothing. */
function upgrade(legacy: Record<string, Buffer>): Record<string, Buffer> {
  const createdAt = Number(legacy[RECORD_FIELDS.createdAt.legacy]?.toString());
  const hash: Record<string, Buffer> = {};
  for (const { field, legacy: name, form } of ALL_FIELDS) {
    const raw = legacy[name];
    if (raw === undefined) continue;
    if (form === 'time') hash[field] = Buffer.from(String(Number(raw.toString()) - createdAt));
    else if (form === 'digest') hash[field] = packDigest(raw.toString());
    else hash[field] = raw;
  }
  return hash;
}

/**
 * Lua, for the scripts: the verification's hash as if each field had its own, whatever the layout.
 * - `hmget(key, ...)` answers the named fields, a packed code (`PACKED_CODES`) and the delivery's time behind the
 *   mark as theirs. A hash of an earlier layout (each code in its own field, or the names in full) is first rewritten
 *   in this one, in place (`upgrade`). Every script reads through it before it writes.
 * - `hset(key, field, value, ...)` and `hdel(key, field, ...)` write and delete fields as `HSET` and `HDEL` would,
 *   a code into the packed field (a value without a one-character code into its own field, `none` in its place),
 *   and keep the mark true: set when the delivery's time is written equal to the verification's in the same call
 *   (as a delivery report and a resend write them), and, when the verification's time changes alone, the delivery's
 *   written out first. `put` writes '' (null) and 0 as no field.
 * A script touches one verification's hash, so the packed field as `hmget` read it is kept in the script's locals
 * and each write updates it; new fields are written before old ones are deleted, so the key keeps its expiry.
 */
export function layoutLua(): string {
  const forms = ALL_FIELDS.map(({ field, legacy, form }) => `${legacy} = {'${field}', '${form}'}`).join(', ');
  const legacyNames = [LEGACY_MARK, ...ALL_FIELDS.map(({ legacy }) => legacy)].map((name) => `'${name}'`).join(', ');
  const packedOrder = PACKED_CODES.order.map((name) => `'${name}'`).join(', ');
  const positions = PACKED_CODES.order.map((name, i) => `${name} = ${i + 1}`).join(', ');
  // Each packed field's table, value in full → code: what an earlier layout wrote in full is packed as its code.
  const codeTables = PACKED_TABLES.map(
    ([field, table]) =>
      `${field} = {${Object.entries(SHORT_CODES[table])
        .map(([value, code]) => `['${value}'] = '${code}'`)
        .join(', ')}}`,
  ).join(', ');
  const { field: PACKED, none: NONE, sameUpdate: SAME } = PACKED_CODES;
  const U = FIELD.updatedAt;
  const DU = DELIVERY_FIELD.updatedAt;
  return `
local PACKED_ORDER = {${packedOrder}}
local PACKED_AT = {${positions}}
-- The packed field as hmget read it (its codes, then the mark), and the verification's time. Kept as the
-- string itself: a check, the most frequent script, only reads it, and each table a script builds costs Redis
-- as much as a command does.
local packed, updated = nil, nil
local function upgrade(key)
  local old = redis.call('HGETALL', key)
  if #old == 0 then return end
  local v = {}
  for i = 1, #old, 2 do v[old[i]] = old[i + 1] end
  if v['${LEGACY_MARK}'] then
    local LEGACY = {${forms}}
    local createdAt = tonumber(v['${RECORD_FIELDS.createdAt.legacy}'])
    local fresh = {}
    local compact = {}
    for name, value in pairs(v) do
      local to = LEGACY[name]
      if to then
        if to[2] == 'time' then
          value = tostring(tonumber(value) - createdAt)
        elseif to[2] == 'digest' then
          value = value:gsub('%x%x', function(byte) return string.char(tonumber(byte, 16)) end)
        end
        fresh[#fresh + 1] = to[1]
        fresh[#fresh + 1] = value
        compact[to[1]] = value
      end
    end
    local gone = {${legacyNames}}
    redis.call('HSET', key, unpack(fresh))
    redis.call('HDEL', key, unpack(gone))
    v = compact
  end
  -- No verification (only a delivery ledger's mark), or one of this layout.
  if not v['${FIELD.createdAt}'] or v['${PACKED}'] then return end
  -- Built here, not with the script: only a hash of an earlier layout needs it.
  local CODE_OF = {${codeTables}}
  local codes, gone = {}, {}
  for i, name in ipairs(PACKED_ORDER) do
    local value = v[name]
    local code = value and (CODE_OF[name][value] or value)
    if code and #code == 1 and code ~= '${NONE}' then
      codes[i] = code
      gone[#gone + 1] = name
    else
      codes[i] = '${NONE}'
    end
  end
  local mark = ''
  if v['${DU}'] and v['${DU}'] == v['${U}'] then
    mark = '${SAME}'
    gone[#gone + 1] = '${DU}'
  end
  redis.call('HSET', key, '${PACKED}', table.concat(codes) .. mark)
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
end
local SAME_AT = ${PACKED_CODES.order.length + 1}
local function sameUpdate() return string.sub(packed, SAME_AT, SAME_AT) == '${SAME}' end
local function hmget(key, ...)
  local h = redis.call('HMGET', key, '${PACKED}', '${U}', ...)
  if not h[1] then
    upgrade(key)
    h = redis.call('HMGET', key, '${PACKED}', '${U}', ...)
  end
  local count = select('#', ...)
  packed, updated = h[1] or nil, h[2] or nil
  -- In place: the i-th field's value moves from h[i + 2] to h[i], read before it is overwritten.
  for i = 1, count do
    local value = h[i + 2]
    if packed then
      local name = select(i, ...)
      local at = PACKED_AT[name]
      if at then
        local code = string.sub(packed, at, at)
        if code ~= '${NONE}' and code ~= '' then value = code end
      elseif name == '${DU}' and sameUpdate() then
        value = updated
      end
    end
    h[i] = value
  end
  h[count + 1], h[count + 2] = nil, nil
  return h
end
-- The packed field with a code at a position.
local function withCode(at, code)
  return string.sub(packed, 1, at - 1) .. code .. string.sub(packed, at + 1)
end
-- sets: field, value, …; dels: fields.
local function write(key, sets, dels)
  local hsetArgs, hdelArgs = {}, {}
  local before = packed
  local deliveryUpdated, verificationUpdated = nil, nil
  for i = 1, #sets, 2 do
    local name, value = sets[i], sets[i + 1]
    local at = packed and PACKED_AT[name]
    if at then
      value = tostring(value)
      if #value == 1 and value ~= '${NONE}' then
        if string.sub(packed, at, at) == '${NONE}' then hdelArgs[#hdelArgs + 1] = name end
      else
        hsetArgs[#hsetArgs + 1] = name
        hsetArgs[#hsetArgs + 1] = value
        value = '${NONE}'
      end
      packed = withCode(at, value)
    elseif packed and name == '${DU}' then
      deliveryUpdated = tostring(value)
    else
      if name == '${U}' then verificationUpdated = tostring(value) end
      hsetArgs[#hsetArgs + 1] = name
      hsetArgs[#hsetArgs + 1] = value
    end
  end
  for i = 1, #dels do
    local name = dels[i]
    local at = packed and PACKED_AT[name]
    if at and string.sub(packed, at, at) ~= '${NONE}' then
      packed = withCode(at, '${NONE}')
    elseif packed and name == '${DU}' then
      deliveryUpdated = false
    else
      hdelArgs[#hdelArgs + 1] = name
    end
  end
  if packed then
    local wasSame = sameUpdate()
    local mark = wasSame
    if deliveryUpdated ~= nil then
      mark = deliveryUpdated ~= false and deliveryUpdated == verificationUpdated
      if mark then
        if not wasSame then hdelArgs[#hdelArgs + 1] = '${DU}' end
      elseif deliveryUpdated then
        hsetArgs[#hsetArgs + 1] = '${DU}'
        hsetArgs[#hsetArgs + 1] = deliveryUpdated
      elseif not wasSame then
        hdelArgs[#hdelArgs + 1] = '${DU}'
      end
    elseif verificationUpdated and wasSame then
      -- The verification changes alone: the delivery keeps the time both last changed at.
      mark = false
      if updated and updated ~= '0' then
        hsetArgs[#hsetArgs + 1] = '${DU}'
        hsetArgs[#hsetArgs + 1] = updated
      end
    end
    if verificationUpdated then updated = verificationUpdated end
    if mark ~= wasSame then packed = string.sub(packed, 1, SAME_AT - 1) .. (mark and '${SAME}' or '') end
    if packed ~= before then
      hsetArgs[#hsetArgs + 1] = '${PACKED}'
      hsetArgs[#hsetArgs + 1] = packed
    end
  end
  if #hsetArgs > 0 then redis.call('HSET', key, unpack(hsetArgs)) end
  if #hdelArgs > 0 then redis.call('HDEL', key, unpack(hdelArgs)) end
end
local NO_FIELDS = {}
local function hset(key, ...) write(key, {...}, NO_FIELDS) end
local function hdel(key, ...) write(key, NO_FIELDS, {...}) end
local function put(key, field, value)
  if value == '' or value == 0 then hdel(key, field) else hset(key, field, value) end
end
`;
}

function put(hash: Record<string, HashValue>, field: string, value: HashValue | undefined) {
  if (value !== undefined) hash[field] = value;
}

function names<R>(table: Fields<R>): { readonly [K in keyof R]-?: string } {
  return Object.fromEntries(Object.entries<Field<unknown>>(table).map(([key, { field }]) => [key, field])) as { [K in keyof R]-?: string };
}

function entries<T extends object>(table: T) {
  return Object.entries(table) as [keyof T & string, T[keyof T]][];
}
