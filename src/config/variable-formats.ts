import { isIn, isInt, matches, max, maxLength, min, minLength } from 'class-validator';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * How one kind of variable is checked and read; `variables.ts` gives each variable one. Rules that tie
 * variables together (a provider named in a chain needs its credentials, production refuses `console`, …)
 * live in `configuration.rules.ts`.
 */
export interface Format<T> {
  /**
   * What is wrong with a value, as the end of "NAME …", or undefined when it is well formed. It never
   * repeats the value of a variable that can hold a secret.
   */
  problem(value: string): string | undefined;
  /** A well-formed value as the configuration holds it. */
  read(value: string): T;
  /** The configuration's value when the variable is unset and has no default (undefined when absent). */
  unset?: T;
}

/** A format whose unset value is not undefined: the configuration's field is then never undefined either. */
export type FormatWithUnset<T> = Format<T> & { unset: T };

/** `false` trusts no proxy; a number trusts that many hops; a list trusts those addresses/ranges. */
export type TrustProxy = false | number | string[];

export const listEntries = (value: string): string[] =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);

/** Any value, as written; `problem` may still refuse some. */
export function text(problem: (value: string) => string | undefined = () => undefined): Format<string> {
  return { problem, read: (value) => value };
}

/** The same checks, read another way (a prefix or trailing slashes dropped). */
export function readAs<T>(format: Format<string>, read: (value: string) => T): Format<T> {
  return { problem: format.problem, read: (value) => read(format.read(value)) };
}

export function matching(pattern: RegExp, phrase: string): Format<string> {
  return text((value) => (matches(value, pattern) ? undefined : phrase));
}

export function oneOf(values: readonly string[], phrase: string): Format<string> {
  return text((value) => (isIn(value, values) ? undefined : phrase));
}

export function notEmpty(phrase = 'must not be empty'): Format<string> {
  return text((value) => (minLength(value, 1) ? undefined : phrase));
}

export function atLeastCharacters(length: number): Format<string> {
  return text((value) => (minLength(value, length) ? undefined : `must be at least ${length} characters long`));
}

export function atMostCharacters(length: number, phrase: string): Format<string> {
  return text((value) => (maxLength(value, length) ? undefined : phrase));
}

/** Each check in turn; the first problem found is the one reported. */
export function allOf(...formats: Format<string>[]): Format<string> {
  return text((value) => formats.map((format) => format.problem(value)).find((problem) => problem !== undefined));
}

/** Digits only, as `Number` reads them (so `1e3` is 1000), within the bounds. */
export function wholeNumber(lowest: number, highest: number): Format<number> {
  return {
    problem(value) {
      const number = Number(value);
      return isInt(number) && min(number, lowest) && max(number, highest)
        ? undefined
        : `must be a whole number from ${lowest} to ${highest}`;
    },
    read: Number,
  };
}

/** A decimal fraction from 0 to 1 (`0.1`). */
export const fraction: Format<number> = {
  problem: (value) => (/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(value) ? undefined : 'must be a number from 0 to 1, such as 0.1'),
  read: Number,
};

/** A comma-separated list of http(s) URLs; unset = none. */
export const httpUrlList: FormatWithUnset<string[]> = {
  problem(value) {
    const entries = listEntries(value);
    const bad = entries.filter((entry) => httpUrl.problem(entry) !== undefined);
    if (entries.length === 0) return 'must list at least one http:// or https:// URL';
    return bad.length === 0
      ? undefined
      : `must be a comma-separated list of http:// or https:// URLs (entry ${entries.indexOf(bad[0]!) + 1} is not)`;
  },
  read: listEntries,
  unset: [],
};

export const trueOrFalse: FormatWithUnset<boolean> = {
  problem: (value) => (isIn(value, ['true', 'false', '1', '0', 'yes', 'no']) ? undefined : 'must be true or false'),
  read: (value) => ['true', '1', 'yes'].includes(value),
  unset: false,
};

export function url(schemes: readonly string[], phrase: string): Format<string> {
  return text((value) => {
    try {
      const parsed = new URL(value);
      return schemes.includes(parsed.protocol.replace(/:$/, '')) && parsed.hostname !== '' ? undefined : phrase;
    } catch {
      return phrase;
    }
  });
}

export const httpUrl = url(['http', 'https'], 'must be an http:// or https:// URL');

/** `addr@example.com` or `Name <addr@example.com>`. */
const SENDER_ADDRESS = /^(?:[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;
export const senderAddress = matching(SENDER_ADDRESS, 'must be an email address, optionally as "Name <address>"');

const E164 = /^\+[1-9]\d{6,14}$/;
const TWILIO_ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
export const twilioSender = text((value) =>
  E164.test(value) || TWILIO_ALPHANUMERIC_SENDER.test(value)
    ? undefined
    : 'must be an E.164 number (+14155550100) or an alphanumeric sender id of up to 11 characters',
);

export function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export const trustProxy: FormatWithUnset<TrustProxy> = {
  problem(value) {
    const valid =
      value.trim() !== '' && (/^\d{1,2}$/.test(value.trim()) || value.split(',').every((entry) => isAddressOrCidr(entry.trim())));
    return valid ? undefined : 'must be a hop count (e.g. 1) or a comma-separated list of IP addresses or CIDR ranges';
  },
  read(value) {
    if (/^\d{1,2}$/.test(value)) return Number(value) === 0 ? false : Number(value);
    return value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
  },
  unset: false,
};

/** One Redis Cluster seed or Sentinel, `host:port` or `[ipv6]:port`; `undefined` when it is not one. */
export function parseRedisSeed(entry: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(entry.trim());
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port < 1 || port > 65535 || (match[1] !== undefined && isIP(host) !== 6)) return undefined;
  return { host, port };
}

/** Host names and ports are no secret, so the problem can name the entries at fault. */
export function redisNodeList(example: string): Format<string> {
  return text((value) => {
    const entries = listEntries(value);
    if (entries.length > 0 && entries.every((entry) => parseRedisSeed(entry) !== undefined)) return undefined;
    const bad = entries.filter((entry) => parseRedisSeed(entry) === undefined);
    return `must be a comma-separated list of ${example}` + (bad.length > 0 ? `; not one: ${bad.join(', ')}` : '');
  });
}

const API_KEY_NAME = /^[a-z0-9-]{1,32}$/;
/** Printable ASCII without space or comma (the list separator). */
const API_KEY = /^[\x21-\x2b\x2d-\x7e]{16,256}$/;

/**
 * One `name:key` entry of API_KEYS / ADMIN_API_KEYS, or a bare key (named by its position later).
 * A key that itself starts with something like `abc:` must be given a name, or that part is read as one.
 */
export function parseApiKeyEntry(entry: string): { name?: string; key: string } | undefined {
  const separator = entry.indexOf(':');
  if (separator > 0 && API_KEY_NAME.test(entry.slice(0, separator))) {
    const key = entry.slice(separator + 1);
    return API_KEY.test(key) ? { name: entry.slice(0, separator), key } : undefined;
  }
  return API_KEY.test(entry) ? { key: entry } : undefined;
}

/** Names the entries at fault by position only: the value is a secret. */
export const apiKeyList = text((value) => {
  const entries = listEntries(value);
  if (entries.length > 0 && entries.every((entry) => parseApiKeyEntry(entry) !== undefined)) return undefined;
  const bad = entries.map((entry, index) => (parseApiKeyEntry(entry) === undefined ? index + 1 : 0)).filter((position) => position > 0);
  return (
    'must be comma-separated name:key entries (name: 1-32 of a-z, 0-9 and -, optional; ' +
    'key: 16 to 256 printable characters without spaces)' +
    (bad.length > 0 ? `; not one: entry ${bad.join(', ')}` : '')
  );
});

/** A decimal number within the bounds (`0.2`, `1`), for rates and ratios. */
export function decimal(lowest: number, highest: number): Format<number> {
  return {
    problem(value) {
      const number = Number(value);
      return /^\d+(\.\d+)?$/.test(value) && number >= lowest && number <= highest
        ? undefined
        : `must be a number from ${lowest} to ${highest}`;
    },
    read: Number,
  };
}

/** Hourly caps by key: `*` for every key not named, and the named ones (`GB`, `sms`) that override it. */
export type HourlyCaps = Readonly<Record<string, number>>;

/**
 * `key:count` entries (`*:200,GB:5000`): each key accepted by `isKey`, each count a whole number
 * (0 = no cap). A bare number is the same as `*:number`. `others`: the cap of `*` when the list does not give one.
 */
export function hourlyCaps(keys: string, isKey: (key: string) => boolean, others?: number): FormatWithUnset<HourlyCaps> {
  const entriesOf = (value: string) =>
    listEntries(value).map((entry) => {
      const [key, count, ...rest] = entry.includes(':') ? entry.split(':').map((part) => part.trim()) : ['*', entry];
      return {
        entry,
        key: key!,
        count: count ?? '',
        valid: rest.length === 0 && (key === '*' || isKey(key!)) && /^\d{1,9}$/.test(count ?? ''),
      };
    });
  return {
    problem(value) {
      const entries = entriesOf(value);
      const bad = entries.filter((entry) => !entry.valid).map((entry) => entry.entry);
      if (entries.length > 0 && bad.length === 0) return undefined;
      return (
        `must be comma-separated key:count entries (key * or ${keys}; count a whole number, 0 = no cap)` +
        (bad.length ? `; not one: ${bad.join(', ')}` : '')
      );
    },
    read: (value) => ({
      ...(others !== undefined ? { '*': others } : {}),
      ...Object.fromEntries(
        entriesOf(value).map(({ key, count }) => [
          key === '*' ? key : key.length === 2 ? key.toUpperCase() : key.toLowerCase(),
          Number(count),
        ]),
      ),
    }),
    unset: others !== undefined ? { '*': others } : {},
  };
}

/** PEM as an environment variable holds it: with real line breaks, or with `\n` escapes (a one-line .env entry). */
export function pemText(value: string): string {
  return value.replace(/\\n/g, '\n');
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** The ES256 signing key: one P-256 private key in PEM (PKCS#8 or SEC1). Says nothing of the value: it is a secret. */
export const ecPrivateKeyPem: Format<string> = {
  problem(value) {
    try {
      return isP256(createPrivateKey(pemText(value))) ? undefined : 'must be a P-256 (ES256) private key';
    } catch {
      return 'must be a private key in PEM (-----BEGIN PRIVATE KEY-----, as openssl genpkey writes it)';
    }
  },
  read: pemText,
};

/** P-256 public keys in PEM, one block after another (commas or line breaks between them are allowed). */
export const ecPublicKeyPemList: FormatWithUnset<string[]> = {
  problem(value) {
    const blocks = pemText(value).match(PEM_BLOCK) ?? [];
    if (blocks.length === 0) return 'must be one or more public keys in PEM (-----BEGIN PUBLIC KEY-----)';
    const bad = blocks.map((block, index) => (isP256PublicKey(block) ? 0 : index + 1)).filter((position) => position > 0);
    return bad.length === 0 ? undefined : `must hold only P-256 (ES256) public keys in PEM; not one: key ${bad.join(', ')}`;
  },
  read: (value) => pemText(value).match(PEM_BLOCK) ?? [],
  unset: [],
};

function isP256PublicKey(block: string): boolean {
  try {
    return block.includes('PUBLIC KEY') && isP256(createPublicKey(block));
  } catch {
    return false;
  }
}
