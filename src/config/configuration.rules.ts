import { isSupportedCountry } from 'libphonenumber-js';
import { createECDH, createPrivateKey, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { parseContact, PHONE_NUMBER_TYPES, type PhoneNumberType } from '../otp/destinations/addresses.js';
import {
  CHAIN_VARIABLE,
  CHANNELS,
  PROVIDERS_BY_CHANNEL,
  type ApiKey,
  type ApiKeyScope,
  type Channel,
  type ConfigProblem,
  type ProviderId,
  type ProviderState,
  type RedisConfig,
  type RedisNode,
  usesRedis,
} from './configuration.types.js';
import { listEntries, parseApiKeyEntry, parseRedisSeed } from './variable-formats.js';
import type { Mode, VariableName, VariableValues } from './variables.js';

/*
 * Rules that tie several variables together, one function each, in the order `loadConfiguration` applies
 * them. Each returns its problems (fatal in production, warnings otherwise), and where the configuration
 * needs one, the value to use: after a problem, the one that keeps a development server working. Messages
 * name variables and entries, never the value of a secret.
 */

/** The variables as rules see them, each already checked against its own format. */
export interface Reading {
  mode: Mode;
  /** The value in effect as written (environment, else config files, else the default); undefined when unset or malformed. */
  raw(name: VariableName): string | undefined;
  /** Whether the value given is malformed (its problem is already reported). */
  malformed(name: VariableName): boolean;
  /** Every variable as its format reads it; a malformed one as its default. */
  values: VariableValues;
}

export interface Ruling<T> {
  value: T;
  problems: ConfigProblem[];
  notices?: string[];
}

const listOf = (read: Reading, name: VariableName): string[] => listEntries(read.raw(name) ?? '');

export function modeIsKnown(nodeEnv: string | undefined, mode: Mode): ConfigProblem[] {
  if (nodeEnv === undefined || nodeEnv.trim() === '' || nodeEnv.trim() === mode) return [];
  return [
    {
      variable: 'NODE_ENV',
      message: 'NODE_ENV must be one of development, test, production',
      warning: `NODE_ENV must be one of development, test, production: running in ${mode} mode`,
    },
  ];
}

/** Optional in development and test (embedded stores), required in production. */
export function storesGivenInProduction(read: Reading): ConfigProblem[] {
  if (read.mode !== 'production') return [];
  const problems: ConfigProblem[] = [];
  for (const [names, why] of [
    [['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'], 'OTP state, limits and the delivery queue are shared by every replica'],
    [['DATABASE_URL'], 'users and refresh tokens live in PostgreSQL'],
  ] as const) {
    const given = (variable: VariableName) => read.raw(variable) !== undefined || read.malformed(variable);
    if (!names.some(given)) {
      const what = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
      problems.push({ variable: names[0], message: `${what} is required in production (${why})`, warning: '' });
    }
  }
  return problems;
}

const DEFAULT_SENTINEL_NAME = 'mymaster';

/**
 * One Redis server, one cluster or one Sentinel-watched master, never two: which store an operator
 * meant cannot be guessed, and a replica on another one would not share limits or the queue with
 * the rest. When more than one is set, the cluster wins, then Sentinel (the more specific settings).
 */
export function oneRedisTarget(read: Reading): Ruling<RedisConfig> {
  const url = read.raw('REDIS_URL');
  const seeds = read.raw('REDIS_CLUSTER_NODES');
  const sentinels = read.raw('REDIS_SENTINELS');
  const problems: ConfigProblem[] = [];
  const given: Record<string, string | undefined> = { REDIS_URL: url, REDIS_CLUSTER_NODES: seeds, REDIS_SENTINELS: sentinels };
  const set = Object.keys(given).filter((name) => given[name] !== undefined);
  const chosen = seeds !== undefined ? 'REDIS_CLUSTER_NODES' : sentinels !== undefined ? 'REDIS_SENTINELS' : 'REDIS_URL';
  if (set.length > 1) {
    const listed = `${set.slice(0, -1).join(', ')} and ${set.at(-1)} are ${set.length === 2 ? 'both' : 'all'} set`;
    const ignored = set.filter((name) => name !== chosen);
    problems.push({
      variable: chosen,
      message:
        `${listed}: set only one (REDIS_URL for one Redis server, REDIS_CLUSTER_NODES for a Redis Cluster, ` +
        'REDIS_SENTINELS for a master watched by Sentinel)',
      warning: `${listed}: ${chosen} is used and ${ignored.join(' and ')} ${ignored.length === 1 ? 'is' : 'are'} ignored`,
    });
  }
  if (seeds !== undefined) return { value: { url: undefined, clusterNodes: nodesOf(seeds) }, problems };
  if (sentinels !== undefined) {
    const sentinelName = read.raw('REDIS_SENTINEL_NAME') ?? DEFAULT_SENTINEL_NAME;
    return { value: { url: undefined, clusterNodes: undefined, sentinels: nodesOf(sentinels), sentinelName }, problems };
  }
  return { value: { url, clusterNodes: undefined }, problems };
}

function nodesOf(list: string): RedisNode[] {
  const nodes = new Map<string, RedisNode>();
  for (const entry of listEntries(list)) {
    const node = parseRedisSeed(entry)!;
    nodes.set(`${node.host}:${node.port}`, node);
  }
  return [...nodes.values()];
}

/** Required in production; random per process in development and test, so nothing signed with it survives a restart. */
export function secretGiven(
  read: Reading,
  name: 'JWT_SECRET' | 'OTP_SECRET',
  purpose: string,
  consequence: string,
): Ruling<{ value: string; generated: boolean }> {
  const value = read.raw(name);
  if (value !== undefined) return { value: { value, generated: false }, problems: [] };
  const problems: ConfigProblem[] = [];
  if (read.mode === 'production') {
    if (!read.malformed(name)) problems.push({ variable: name, message: `${name} is required in production (${purpose})`, warning: '' });
  } else {
    problems.push({
      variable: name,
      message: `${name} is not set`,
      warning: `${name} is not set: a random one is used for this run, so ${consequence}`,
    });
  }
  return { value: { value: randomBytes(32).toString('base64url'), generated: true }, problems };
}

/** Relative to the working directory, beside the embedded database and the development API key. */
export const DEVELOPMENT_JWT_KEY_FILE = './.data/jwt-private-key.pem';

export interface SigningKey {
  /** PEM; undefined with HS256. */
  privateKey: string | undefined;
  /** Made for this process because JWT_PRIVATE_KEY was not set (development replaces it with the one kept in `file`). */
  generated: boolean;
  /** Development without JWT_PRIVATE_KEY: where the key is kept across restarts. */
  file?: string;
}

/**
 * ES256 needs JWT_PRIVATE_KEY in production. Development without one signs with a key made for the run and
 * then kept in DEVELOPMENT_JWT_KEY_FILE (main.ts), so tokens survive a restart. Test derives one from
 * JWT_SECRET when that is given, so processes started with one secret verify each other's tokens as
 * replicas must; random otherwise.
 */
export function signingKeyGiven(read: Reading, jwtSecret: { value: string; generated: boolean }): Ruling<SigningKey> {
  if (read.values.JWT_ALGORITHM !== 'ES256') return { value: { privateKey: undefined, generated: false }, problems: [] };
  const given = read.values.JWT_PRIVATE_KEY;
  if (given !== undefined) return { value: { privateKey: given, generated: false }, problems: [] };
  const derived = read.mode === 'test' && !jwtSecret.generated;
  const privateKey = derived ? p256KeyFrom(jwtSecret.value) : randomP256Key();
  const problems: ConfigProblem[] =
    read.mode === 'production' && !read.malformed('JWT_PRIVATE_KEY')
      ? [
          {
            variable: 'JWT_PRIVATE_KEY',
            message: 'JWT_PRIVATE_KEY is required in production when JWT_ALGORITHM is ES256 (it signs access tokens)',
            warning: '',
          },
        ]
      : [];
  return { value: { privateKey, generated: true, ...(read.mode === 'development' ? { file: DEVELOPMENT_JWT_KEY_FILE } : {}) }, problems };
}

function randomP256Key(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A P-256 key that depends on `secret` alone (test mode only: whoever knows the secret knows the key). */
function p256KeyFrom(secret: string): string {
  const ecdh = createECDH('prime256v1');
  // Any 32 bytes with the top bit clear are below the curve order, so every secret gives a valid key.
  const d = Buffer.from(hkdfSync('sha256', secret, 'otp-gateway', 'test-jwt-signing-key-v1', 32));
  d[0] = d[0]! & 0x7f;
  ecdh.setPrivateKey(d);
  const publicKey = ecdh.getPublicKey();
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    d: d.toString('base64url'),
    x: publicKey.subarray(1, 33).toString('base64url'),
    y: publicKey.subarray(33, 65).toString('base64url'),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function secretsDiffer(jwt: { value: string; generated: boolean }, otp: { value: string; generated: boolean }): ConfigProblem[] {
  if (jwt.generated || otp.generated || jwt.value !== otp.value) return [];
  return [
    {
      variable: 'OTP_SECRET',
      message: 'OTP_SECRET must differ from JWT_SECRET: one leaked key must not compromise both',
      warning: 'OTP_SECRET equals JWT_SECRET: one leaked key compromises both',
    },
  ];
}

/**
 * API_KEYS and ADMIN_API_KEYS, each entry named by its `name:` or, without one, by its position (`key1`…).
 * A name must say which application called, so it names one key; and a key opens one scope, so an
 * application's key can never clear limits or manage users. Messages name entries, never keys.
 * An admin entry that repeats an application key is left out.
 */
export function apiKeysDistinct(read: Reading): Ruling<ApiKey[]> {
  const keys = [...apiKeysOf(read.raw('API_KEYS'), 'application'), ...apiKeysOf(read.raw('ADMIN_API_KEYS'), 'admin')];
  const problems: ConfigProblem[] = [];
  const variableOf = (key: ApiKey) => (key.scope === 'admin' ? 'ADMIN_API_KEYS' : 'API_KEYS');
  const accepted = keys.filter((key, index) => {
    const earlier = keys.slice(0, index);
    const variable = variableOf(key);
    if (earlier.some((other) => other.scope === key.scope && other.name === key.name)) {
      problems.push({
        variable,
        message: `${variable} names two keys "${key.name}": each name must say which application called`,
        warning: `${variable} names two keys "${key.name}": logs and metrics cannot tell them apart`,
      });
    }
    const twin = earlier.find((other) => other.key === key.key);
    if (twin && twin.scope !== key.scope) {
      problems.push({
        variable,
        message: `ADMIN_API_KEYS "${key.name}" is also in API_KEYS as "${twin.name}": an application's key must not reach /v1/admin`,
        warning:
          `ADMIN_API_KEYS "${key.name}" is also in API_KEYS as "${twin.name}": ` +
          "an application's key must not reach /v1/admin, so it is not accepted there",
      });
      return false;
    }
    if (twin) {
      problems.push({
        variable,
        message: `${variable} gives one key two names ("${twin.name}" and "${key.name}")`,
        warning: `${variable} gives one key two names ("${twin.name}" and "${key.name}"): it is logged as "${twin.name}"`,
      });
    }
    return true;
  });
  return { value: accepted, problems };
}

function apiKeysOf(value: string | undefined, scope: ApiKeyScope): ApiKey[] {
  if (value === undefined) return [];
  return listEntries(value).map((entry, index) => {
    const parsed = parseApiKeyEntry(entry)!;
    return { name: parsed.name ?? `key${index + 1}`, key: parsed.key, scope };
  });
}

/** Relative to the working directory, beside the embedded database. */
export const DEVELOPMENT_API_KEY_FILE = './.data/api-key';

/**
 * Without application keys /v1/verifications answers 401 to everyone. Development instead gets a key
 * generated into this file at start-up (main.ts), so the README's first curl works.
 */
export function applicationKeyGiven(read: Reading, apiKeys: ApiKey[]): Ruling<string | undefined> {
  if (apiKeys.some((key) => key.scope === 'application') || read.malformed('API_KEYS')) return { value: undefined, problems: [] };
  if (read.mode === 'development') return { value: DEVELOPMENT_API_KEY_FILE, problems: [] };
  return {
    value: undefined,
    problems: [
      {
        variable: 'API_KEYS',
        message: read.mode === 'production' ? 'API_KEYS is required in production (it guards /v1/verifications)' : 'API_KEYS is not set',
        warning: 'API_KEYS is not set: /v1/verifications answers 401 to every request',
      },
    ],
  };
}

export function knownChannels(read: Reading): Ruling<Channel[]> {
  const channels: Channel[] = [];
  const problems: ConfigProblem[] = [];
  for (const name of listOf(read, 'OTP_CHANNELS')) {
    if (!(CHANNELS as readonly string[]).includes(name)) {
      problems.push({
        variable: 'OTP_CHANNELS',
        message: `OTP_CHANNELS names "${name}", which is not a channel (email, sms, whatsapp)`,
        warning: `OTP_CHANNELS names "${name}", which is not a channel (email, sms, whatsapp): it is ignored`,
      });
    } else if (!channels.includes(name as Channel)) {
      channels.push(name as Channel);
    }
  }
  if (channels.length === 0) {
    problems.push({
      variable: 'OTP_CHANNELS',
      message: 'OTP_CHANNELS must enable at least one of email, sms, whatsapp',
      warning: 'OTP_CHANNELS enables no channel: email and sms are used',
    });
    channels.push('email', 'sms');
  }
  return { value: channels, problems };
}

/** Every channel's chain, enabled or not: unknown names are skipped, repeats dropped. */
export function knownProviders(read: Reading): Ruling<Record<Channel, ProviderId[]>> {
  const chains = {} as Record<Channel, ProviderId[]>;
  const problems: ConfigProblem[] = [];
  for (const channel of CHANNELS) {
    const variable = CHAIN_VARIABLE[channel];
    const known: readonly string[] = PROVIDERS_BY_CHANNEL[channel];
    const chain: ProviderId[] = [];
    for (const name of listOf(read, variable)) {
      if (!known.includes(name)) {
        problems.push({
          variable,
          message: `${variable} names "${name}", which is not a ${channel} provider (${known.join(', ')})`,
          warning: `${variable} names "${name}", which is not a ${channel} provider (${known.join(', ')}): it is skipped`,
        });
      } else if (!chain.includes(name as ProviderId)) {
        chain.push(name as ProviderId);
      }
    }
    chains[channel] = chain;
  }
  return { value: chains, problems };
}

/** What each provider needs; a value present but malformed counts as missing for the provider too. */
export function providerStates(read: Reading): Record<ProviderId, ProviderState> {
  const missingOf = (...names: VariableName[]) => names.filter((name) => read.raw(name) === undefined);
  const twilioSender = read.raw('TWILIO_FROM') ?? read.raw('TWILIO_MESSAGING_SERVICE_SID');
  const needs: Record<ProviderId, string[]> = {
    smtp: missingOf('SMTP_HOST', 'SMTP_FROM'),
    ses: missingOf('AWS_REGION', 'SES_FROM'),
    sendgrid: missingOf('SENDGRID_API_KEY', 'SENDGRID_FROM'),
    console: [],
    'twilio-verify': missingOf('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_VERIFY_SERVICE_SID'),
    twilio: [
      ...missingOf('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN'),
      ...(twilioSender === undefined ? ['TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID'] : []),
    ],
    sns: missingOf('AWS_REGION'),
    'twilio-whatsapp': missingOf('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_WHATSAPP_FROM'),
  };
  const states = {} as Record<ProviderId, ProviderState>;
  for (const [id, missing] of Object.entries(needs) as [ProviderId, string[]][]) {
    states[id] = { configured: missing.length === 0, missing, allowed: !(read.mode === 'production' && id === 'console') };
  }
  return states;
}

/** Only an enabled channel's chain makes a missing credential or the console provider a problem. */
export function enabledChannelsCanDeliver(
  channels: Channel[],
  chains: Record<Channel, ProviderId[]>,
  providers: Record<ProviderId, ProviderState>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const channel of channels) {
    const variable = CHAIN_VARIABLE[channel];
    const chain = chains[channel];
    if (chain.length === 0) {
      problems.push({
        variable,
        message: `${variable} must name at least one provider because OTP_CHANNELS includes "${channel}"`,
        warning: `${variable} names no provider: ${channel} codes cannot be delivered and sends answer 503 CHANNEL_UNAVAILABLE`,
      });
      continue;
    }
    const usable = chain.filter((id) => providers[id].configured && providers[id].allowed);
    const fallback =
      usable.length > 0
        ? `codes go to the ${usable.join(', then ')} provider${usable.length > 1 ? 's' : ''}`
        : `${channel} codes cannot be delivered and sends answer 503 CHANNEL_UNAVAILABLE`;
    for (const id of chain) {
      const state = providers[id];
      if (!state.allowed) {
        problems.push({
          variable,
          message: `${variable} must not include "console" in production: it prints codes to the log instead of delivering them`,
          warning: `${channel}: console is not allowed here: ${fallback}`,
        });
        continue;
      }
      for (const missing of state.missing) {
        problems.push({
          variable: missing.split(' ')[0]!,
          message: `${missing} is required because ${variable} includes "${id}"`,
          warning: `${channel}: ${id} is not configured (${state.missing.join(', ')} missing): ${fallback}`,
        });
      }
    }
  }
  return problems;
}

/** Two variables that mean something only together; the configuration then holds neither. */
export function bothOrNeither(read: Reading, a: VariableName, b: VariableName, what: string): Ruling<[string, string] | undefined> {
  const [first, second] = [read.raw(a), read.raw(b)];
  const problems: ConfigProblem[] = [];
  if ((first === undefined) !== (second === undefined) && !read.malformed(a) && !read.malformed(b)) {
    const missing = first === undefined ? a : b;
    const present = missing === a ? b : a;
    problems.push({
      variable: missing,
      message: `${missing} is required because ${present} is set (${what}: both or neither)`,
      warning: `${missing} is not set but ${present} is (${what}: both or neither): ${present} is ignored`,
    });
  }
  return { value: first !== undefined && second !== undefined ? [first, second] : undefined, problems };
}

/** A code sent by text message must be short-lived. */
export function textCodesShortLived(read: Reading, channels: Channel[]): Ruling<number> {
  const ttlSeconds = read.values.OTP_TTL_SECONDS;
  if (ttlSeconds <= 600 || !(channels.includes('sms') || channels.includes('whatsapp'))) return { value: ttlSeconds, problems: [] };
  return {
    value: 600,
    problems: [
      {
        variable: 'OTP_TTL_SECONDS',
        message: 'OTP_TTL_SECONDS must be at most 600 when SMS or WhatsApp is enabled: a text message code must be short-lived',
        warning: 'OTP_TTL_SECONDS is over 600 with SMS or WhatsApp enabled: 600 is used',
      },
    ],
  };
}

export function dailyLimitCoversHourly(read: Reading): Ruling<number> {
  const { OTP_MAX_SENDS_PER_DAY: daily, OTP_MAX_SENDS_PER_HOUR: hourly } = read.values;
  if (daily >= hourly) return { value: daily, problems: [] };
  return {
    value: hourly,
    problems: [
      {
        variable: 'OTP_MAX_SENDS_PER_DAY',
        message: 'OTP_MAX_SENDS_PER_DAY must be at least OTP_MAX_SENDS_PER_HOUR',
        warning: `OTP_MAX_SENDS_PER_DAY is below OTP_MAX_SENDS_PER_HOUR: ${hourly} a day is used`,
      },
    ],
  };
}

/** Never in production, where every code would be the same; and as long as the codes it stands for. */
export function fixedCodeAllowed(read: Reading): Ruling<string | undefined> {
  const fixedCode = read.raw('OTP_FIXED_CODE');
  const length = read.values.OTP_LENGTH;
  if (fixedCode === undefined) return { value: undefined, problems: [] };
  if (read.mode === 'production') {
    const message = 'OTP_FIXED_CODE must not be set in production: every code would be the same';
    return { value: undefined, problems: [{ variable: 'OTP_FIXED_CODE', message, warning: '' }] };
  }
  if (fixedCode.length !== length) {
    return {
      value: undefined,
      problems: [
        {
          variable: 'OTP_FIXED_CODE',
          message: `OTP_FIXED_CODE must have OTP_LENGTH (${length}) digits`,
          warning: `OTP_FIXED_CODE does not have OTP_LENGTH (${length}) digits: codes are random`,
        },
      ],
    };
  }
  return { value: fixedCode, problems: [], notices: ['OTP_FIXED_CODE is set: every code issued is the same fixed code'] };
}

/** Embedded mode has no queue another process could work on, so it always delivers itself. */
export function deliveryWorkerNotices(read: Reading, redis: RedisConfig): string[] {
  if (read.values.DELIVERY_WORKER) return [];
  return [
    usesRedis(redis)
      ? 'DELIVERY_WORKER=false: this process queues messages but sends none; ' +
        'they wait in the queue until a replica with DELIVERY_WORKER=true runs'
      : 'DELIVERY_WORKER=false is ignored without Redis: in embedded mode this process sends its own messages',
  ];
}

export function plainTextSmtpNotices(read: Reading, channels: Channel[], chains: Record<Channel, ProviderId[]>): string[] {
  if (read.mode !== 'production' || read.values.SMTP_REQUIRE_TLS || !channels.some((channel) => chains[channel].includes('smtp')))
    return [];
  return [
    'SMTP_REQUIRE_TLS=false in production: a relay that does not offer STARTTLS gets codes in plain text; ' +
      'only for a relay inside your network',
  ];
}

/** `destination:code` entries, the destination normalized as every send's is, so a fixed code matches the address a send is keyed by. */
export function testDestinationsWellFormed(read: Reading): Ruling<Record<string, string>> {
  const value = read.raw('OTP_TEST_DESTINATIONS');
  const length = read.values.OTP_LENGTH;
  const destinations: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  if (value === undefined) return { value: destinations, problems };
  for (const entry of listEntries(value)) {
    const separator = entry.lastIndexOf(':');
    const destination = separator > 0 ? entry.slice(0, separator).trim() : '';
    const code = separator > 0 ? entry.slice(separator + 1).trim() : '';
    const normalized = parseContact(destination)?.value;
    // Name the destination, never the code: the codes are as sensitive as passwords.
    const where = normalized ?? (destination || `entry ${Object.keys(destinations).length + 1}`);
    if (normalized === undefined || !new RegExp(`^\\d{${length}}$`).test(code)) {
      problems.push({
        variable: 'OTP_TEST_DESTINATIONS',
        message: `OTP_TEST_DESTINATIONS entry for ${where} must be <email or E.164 phone>:<${length} digits>`,
        warning: `OTP_TEST_DESTINATIONS entry for ${where} must be <email or E.164 phone>:<${length} digits>: it is ignored`,
      });
      continue;
    }
    destinations[normalized] = code;
  }
  const count = Object.keys(destinations).length;
  const notices =
    count > 0
      ? [
          `OTP_TEST_DESTINATIONS is set: ${count} destination${count > 1 ? 's' : ''} get a fixed code, ` +
            'no delivery, and at most OTP_MAX_ATTEMPTS wrong guesses a day' +
            (read.mode === 'production' ? ' (make sure they are accounts you own)' : ''),
        ]
      : [];
  return { value: destinations, problems, notices };
}

export function knownCountries(read: Reading): Ruling<string[] | undefined> {
  const countries = listOf(read, 'SMS_ALLOWED_COUNTRIES').map((code) => code.toUpperCase());
  if (countries.length === 0) return { value: undefined, problems: [] };
  const unknown = countries.filter((code) => !/^[A-Z]{2}$/.test(code) || !isSupportedCountry(code));
  const problems: ConfigProblem[] =
    unknown.length > 0
      ? [
          {
            variable: 'SMS_ALLOWED_COUNTRIES',
            message: `SMS_ALLOWED_COUNTRIES must list ISO 3166 alpha-2 country codes; not one: ${unknown.join(', ')}`,
            warning: `SMS_ALLOWED_COUNTRIES has unknown country codes (${unknown.join(', ')}): they are ignored`,
          },
        ]
      : [];
  return { value: countries.filter((code) => !unknown.includes(code)), problems };
}

/** Premium-rate and the other costly types stay refused unless named; an unknown name is a typo, never "allow all". */
export function knownNumberTypes(read: Reading, fallback: string): Ruling<PhoneNumberType[]> {
  const wanted = listOf(read, 'SMS_ALLOWED_NUMBER_TYPES').map((name) => name.toLowerCase());
  const unknown = wanted.filter((name) => !(PHONE_NUMBER_TYPES as readonly string[]).includes(name));
  const known = [...new Set(wanted.filter((name) => !unknown.includes(name)))] as PhoneNumberType[];
  const problems: ConfigProblem[] = [];
  if (unknown.length > 0) {
    const usable = known.length > 0 ? known.join(',') : fallback;
    problems.push({
      variable: 'SMS_ALLOWED_NUMBER_TYPES',
      message: `SMS_ALLOWED_NUMBER_TYPES must list number types of ${PHONE_NUMBER_TYPES.join(', ')}; not one: ${unknown.join(', ')}`,
      warning: `SMS_ALLOWED_NUMBER_TYPES has unknown number types (${unknown.join(', ')}): codes go to ${usable} numbers`,
    });
  }
  return { value: known.length > 0 ? known : (fallback.split(',') as PhoneNumberType[]), problems };
}

/**
 * Fraud guard settings that another setting makes pointless: a cap for a channel that is not enabled,
 * an override for a country that SMS_ALLOWED_COUNTRIES already refuses, or a country cap below
 * FRAUD_MIN_SAMPLE (the cap refuses sends before enough exist to judge, so that country is never suspended).
 */
export function fraudSettingsUseful(read: Reading, channels: Channel[], allowedCountries: string[] | undefined): string[] {
  const notices: string[] = [];
  const channelCaps = read.values.OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR;
  for (const channel of Object.keys(channelCaps).filter((key) => key !== '*' && !channels.includes(key as Channel))) {
    notices.push(`OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR caps ${channel}, which OTP_CHANNELS does not enable: the cap has no effect`);
  }
  const countryCaps = read.values.SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR;
  const refused = Object.keys(countryCaps).filter((country) => country !== '*' && allowedCountries && !allowedCountries.includes(country));
  if (refused.length > 0) {
    notices.push(
      `SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR names ${refused.join(', ')}, which SMS_ALLOWED_COUNTRIES refuses: those caps have no effect`,
    );
  }
  const { FRAUD_MIN_SAMPLE: minSample, FRAUD_MIN_CONVERSION: minConversion } = read.values;
  const belowSample = Object.entries(countryCaps)
    .filter(([, cap]) => cap > 0 && cap < minSample)
    .map(([country]) => country);
  if (minConversion > 0 && belowSample.length > 0) {
    notices.push(
      `SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR caps ${belowSample.map((c) => (c === '*' ? 'every other country' : c)).join(', ')} ` +
        `below FRAUD_MIN_SAMPLE (${minSample}): automatic suspension never applies there, the cap alone limits them`,
    );
  }
  return notices;
}

/** Events are signed: receivers are named only together with the key that signs what they get. */
export function webhookSecretGiven(read: Reading): Ruling<string | undefined> {
  const secret = read.raw('WEBHOOK_SECRET');
  if (read.values.WEBHOOK_URLS.length === 0 || secret !== undefined || read.malformed('WEBHOOK_SECRET'))
    return { value: secret, problems: [] };
  return {
    value: undefined,
    problems: [
      {
        variable: 'WEBHOOK_SECRET',
        message: 'WEBHOOK_SECRET is required because WEBHOOK_URLS is set (events are signed with it)',
        warning: 'WEBHOOK_SECRET is missing although WEBHOOK_URLS is set: no events are sent',
      },
    ],
  };
}
