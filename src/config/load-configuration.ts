import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { isSupportedCountry } from 'libphonenumber-js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readConfigFiles } from './config-files.js';
import {
  CHAIN_VARIABLE,
  CHANNELS,
  PROVIDERS_BY_CHANNEL,
  type ApiKey,
  type ApiKeyScope,
  type AppConfiguration,
  type Channel,
  type ConfigProblem,
  type LoadedConfiguration,
  type Mode,
  type ProviderId,
  type ProviderState,
  type RedisConfig,
  type RedisNode,
  type TrustProxy,
  usesRedis,
} from './configuration.types.js';
import { parseContact, PHONE_NUMBER_TYPES, type PhoneNumberType } from '../otp/destinations/addresses.js';
import { EnvironmentVariables, listEntries, parseApiKeyEntry, parseRedisSeed } from './environment.schema.js';
import { KNOWN_VARIABLES } from './variables.js';

type Env = Record<string, string | undefined>;

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

/** Defaults that differ by mode; everything else is in config/default.yaml or below. */
const MODE_DEFAULTS: Record<Mode, Record<string, string>> = {
  development: {
    HOST: '127.0.0.1',
    EMAIL_PROVIDERS: 'smtp,console',
    SMS_PROVIDERS: 'twilio,console',
    SHUTDOWN_DRAIN_MS: '0',
    UI_ENABLED: 'true',
  },
  test: {
    HOST: '127.0.0.1',
    EMAIL_PROVIDERS: 'smtp,console',
    SMS_PROVIDERS: 'twilio,console',
    SHUTDOWN_DRAIN_MS: '0',
    UI_ENABLED: 'true',
  },
  production: {
    HOST: '0.0.0.0',
    EMAIL_PROVIDERS: 'smtp',
    SMS_PROVIDERS: 'twilio',
    SHUTDOWN_DRAIN_MS: '5000',
    UI_ENABLED: 'false',
  },
};

/** Last-resort defaults, so a missing or partial config/default.yaml still gives a working service. */
const BUILT_IN_DEFAULTS: Record<string, string> = {
  PORT: '3000',
  OTP_LENGTH: '6',
  OTP_TTL_SECONDS: '600',
  OTP_MAX_ATTEMPTS: '5',
  OTP_MAX_SENDS: '5',
  OTP_RESEND_COOLDOWN_SECONDS: '30',
  OTP_MAX_SENDS_PER_HOUR: '5',
  OTP_MAX_SENDS_PER_DAY: '10',
  RATE_LIMIT_IP_PER_MINUTE: '30',
  API_KEY_RATE_LIMIT_PER_MINUTE: '6000',
  LOGIN_MAX_FAILURES: '10',
  PASSWORD_HASH_CONCURRENCY: '4',
  OTP_CHANNELS: 'email,sms',
  SMS_ALLOWED_NUMBER_TYPES: 'mobile,fixed_line_or_mobile,voip',
  WHATSAPP_PROVIDERS: 'twilio-whatsapp',
  CIRCUIT_FAILURE_THRESHOLD: '5',
  CIRCUIT_OPEN_SECONDS: '60',
  DELIVERY_ATTEMPTS: '5',
  DELIVERY_BACKOFF_MS: '1000',
  REFRESH_TOKEN_TTL_DAYS: '30',
  SESSION_MAX_DAYS: '90',
  DELIVERY_WORKER: 'true',
  SMTP_PORT: '587',
  SMTP_SECURE: 'false',
  SMTP_REQUIRE_TLS: 'true',
  READINESS_REQUIRES_CHANNELS: 'false',
  SENDGRID_API_BASE_URL: 'https://api.sendgrid.com',
};

/** Not a variable: operators have no reason to change them, and tests shorten them on the configuration object. */
const PROVIDER_TIMEOUTS = { connectMs: 10_000, requestMs: 15_000 };

/** Prefixes of this service's variables: an unknown name with one of them is most likely a typo. */
const OWN_PREFIXES = ['OTP_', 'SMTP_', 'TWILIO_', 'SENDGRID_', 'SES_', 'SMS_', 'EMAIL_', 'WHATSAPP_', 'CIRCUIT_', 'DELIVERY_', 'RATE_LIMIT_'];

export function resolveMode(env: Env): Mode {
  const value = env.NODE_ENV?.trim();
  return value === 'production' || value === 'test' ? value : 'development';
}

/**
 * Reads, merges and validates the whole configuration at once, so that every problem can be
 * reported together. Pure apart from reading config/: the same input gives the same output,
 * except for the random development secrets made when none are given.
 */
export function loadConfiguration(env: Env, options: { configDir?: string } = {}): LoadedConfiguration {
  const mode = resolveMode(env);
  const problems: ConfigProblem[] = [];
  const notices: string[] = [];
  const production = mode === 'production';

  if (env.NODE_ENV !== undefined && env.NODE_ENV.trim() !== '' && env.NODE_ENV.trim() !== mode) {
    problems.push({
      variable: 'NODE_ENV',
      message: 'NODE_ENV must be one of development, test, production',
      warning: `NODE_ENV must be one of development, test, production: running in ${mode} mode`,
    });
  }

  const files = readConfigFiles(mode, options.configDir);
  for (const problem of files.problems) {
    problems.push({ ...problem, warning: `${problem.message}: the entry is ignored` });
  }

  // Environment over files over mode defaults over built-in defaults. An empty variable counts as unset,
  // which is what `FOO=` in a Kubernetes manifest or a .env file means to an operator.
  const fromEnv: Record<string, string> = {};
  for (const name of KNOWN_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') fromEnv[name] = value.trim();
  }
  const defaults = { ...BUILT_IN_DEFAULTS, ...MODE_DEFAULTS[mode] };
  const merged: Record<string, string> = { ...defaults, ...files.values, ...fromEnv };

  for (const name of Object.keys(env)) {
    if (!KNOWN_VARIABLES.has(name) && OWN_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      notices.push(`${name} is not a setting this service reads (a typo?); it is ignored`);
    }
  }

  // Per-variable formats. An invalid value falls back to its default (development) or is fatal (production).
  const instance = plainToInstance(EnvironmentVariables, merged);
  const invalid = new Set<string>();
  for (const error of validateSync(instance, { forbidUnknownValues: false })) {
    const message = Object.values(error.constraints ?? {})[0] ?? `${error.property} is invalid`;
    invalid.add(error.property);
    const fallback = defaults[error.property];
    problems.push({
      variable: error.property,
      message,
      warning: fallback !== undefined ? `${message}: using the default ${fallback}` : `${message}: it is ignored`,
    });
  }
  const get = (name: string): string | undefined => (invalid.has(name) ? undefined : merged[name]);
  const num = (name: string): number => Number(invalid.has(name) ? defaults[name] : merged[name]);
  // A malformed value counts as unset, so the default applies (as for numbers).
  const flag = (name: string): boolean => ['true', '1', 'yes'].includes(get(name) ?? defaults[name] ?? 'false');
  const list = (name: string): string[] =>
    (get(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');

  // Stores: optional in development and test (embedded), required in production.
  if (production) {
    for (const [names, why] of [
      [['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'], 'OTP state, limits and the delivery queue are shared by every replica'],
      [['DATABASE_URL'], 'users and refresh tokens live in PostgreSQL'],
    ] as const) {
      const given = (variable: string) => get(variable) !== undefined || invalid.has(variable);
      if (!names.some(given)) {
        const what = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
        problems.push({ variable: names[0], message: `${what} is required in production (${why})`, warning: '' });
      }
    }
  }
  const redis = redisTarget(get('REDIS_URL'), get('REDIS_CLUSTER_NODES'), get('REDIS_SENTINELS'), get('REDIS_SENTINEL_NAME'), problems);

  // Secrets: random per process in development, so nothing works across a restart.
  const secret = (name: string, purpose: string, consequence: string) => {
    const value = get(name);
    if (value !== undefined) return { value, generated: false };
    if (production) {
      if (!invalid.has(name)) {
        problems.push({ variable: name, message: `${name} is required in production (${purpose})`, warning: '' });
      }
    } else {
      problems.push({
        variable: name,
        message: `${name} is not set`,
        warning: `${name} is not set: a random one is used for this run, so ${consequence}`,
      });
    }
    return { value: randomBytes(32).toString('base64url'), generated: true };
  };
  const jwt = secret('JWT_SECRET', 'it signs access tokens', 'access tokens stop working when the process restarts');
  const otpSecret = secret(
    'OTP_SECRET',
    'it keys code hashing and the encryption of queued messages',
    'codes issued before a restart stop working',
  );
  if (!jwt.generated && !otpSecret.generated && jwt.value === otpSecret.value) {
    problems.push({
      variable: 'OTP_SECRET',
      message: 'OTP_SECRET must differ from JWT_SECRET: one leaked key must not compromise both',
      warning: 'OTP_SECRET equals JWT_SECRET: one leaked key compromises both',
    });
  }

  const apiKeys = checkApiKeys(
    [...apiKeysOf(get('API_KEYS'), 'application'), ...apiKeysOf(get('ADMIN_API_KEYS'), 'admin')],
    problems,
  );
  // Development without keys: one is generated into ./.data/ at start-up (main.ts), so the README's first curl works.
  let developmentKeyFile: string | undefined;
  if (!apiKeys.some((key) => key.scope === 'application') && !invalid.has('API_KEYS')) {
    if (mode === 'development') {
      developmentKeyFile = DEVELOPMENT_API_KEY_FILE;
    } else {
      problems.push({
        variable: 'API_KEYS',
        message: production ? 'API_KEYS is required in production (it guards /v1/verifications)' : 'API_KEYS is not set',
        warning: 'API_KEYS is not set: /v1/verifications answers 401 to every request',
      });
    }
  }

  // Channels and chains.
  const channels: Channel[] = [];
  for (const name of list('OTP_CHANNELS')) {
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

  const chains = {} as Record<Channel, ProviderId[]>;
  for (const channel of CHANNELS) {
    const variable = CHAIN_VARIABLE[channel];
    const known: readonly string[] = PROVIDERS_BY_CHANNEL[channel];
    const chain: ProviderId[] = [];
    for (const name of list(variable)) {
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

  // Which providers have what they need. Only enabled channels' chains make a missing credential a problem.
  const providers = assessProviders(get, production);
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
    for (const id of chain) {
      const state = providers[id];
      const fallback = usable.length > 0
        ? `codes go to the ${usable.join(', then ')} provider${usable.length > 1 ? 's' : ''}`
        : `${channel} codes cannot be delivered and sends answer 503 CHANNEL_UNAVAILABLE`;
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

  // Pairs that must come together.
  const pair = (a: string, b: string, what: string) => {
    if ((get(a) === undefined) !== (get(b) === undefined) && !invalid.has(a) && !invalid.has(b)) {
      const missing = get(a) === undefined ? a : b;
      const present = missing === a ? b : a;
      problems.push({
        variable: missing,
        message: `${missing} is required because ${present} is set (${what}: both or neither)`,
        warning: `${missing} is not set but ${present} is (${what}: both or neither): ${present} is ignored`,
      });
    }
  };
  pair('SMTP_USER', 'SMTP_PASSWORD', 'SMTP authentication');
  pair('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS static credentials');

  // Code settings.
  const length = num('OTP_LENGTH');
  let ttlSeconds = num('OTP_TTL_SECONDS');
  if (ttlSeconds > 600 && (channels.includes('sms') || channels.includes('whatsapp'))) {
    problems.push({
      variable: 'OTP_TTL_SECONDS',
      message: 'OTP_TTL_SECONDS must be at most 600 when SMS or WhatsApp is enabled: a text message code must be short-lived',
      warning: 'OTP_TTL_SECONDS is over 600 with SMS or WhatsApp enabled: 600 is used',
    });
    ttlSeconds = 600;
  }
  let maxSendsPerDay = num('OTP_MAX_SENDS_PER_DAY');
  const maxSendsPerHour = num('OTP_MAX_SENDS_PER_HOUR');
  if (maxSendsPerDay < maxSendsPerHour) {
    problems.push({
      variable: 'OTP_MAX_SENDS_PER_DAY',
      message: 'OTP_MAX_SENDS_PER_DAY must be at least OTP_MAX_SENDS_PER_HOUR',
      warning: `OTP_MAX_SENDS_PER_DAY is below OTP_MAX_SENDS_PER_HOUR: ${maxSendsPerHour} a day is used`,
    });
    maxSendsPerDay = maxSendsPerHour;
  }

  let fixedCode = get('OTP_FIXED_CODE');
  if (fixedCode !== undefined && production) {
    problems.push({
      variable: 'OTP_FIXED_CODE',
      message: 'OTP_FIXED_CODE must not be set in production: every code would be the same',
      warning: '',
    });
    fixedCode = undefined;
  } else if (fixedCode !== undefined && fixedCode.length !== length) {
    problems.push({
      variable: 'OTP_FIXED_CODE',
      message: `OTP_FIXED_CODE must have OTP_LENGTH (${length}) digits`,
      warning: `OTP_FIXED_CODE does not have OTP_LENGTH (${length}) digits: codes are random`,
    });
    fixedCode = undefined;
  } else if (fixedCode !== undefined) {
    notices.push('OTP_FIXED_CODE is set: every code issued is the same fixed code');
  }

  // A session ends when its refresh token goes unused for the sliding lifetime, or at the absolute one at the latest.
  const sessions = { refreshTokenTtlDays: num('REFRESH_TOKEN_TTL_DAYS'), maxDays: num('SESSION_MAX_DAYS') };

  const deliveryWorker = flag('DELIVERY_WORKER');
  if (!deliveryWorker) {
    notices.push(
      usesRedis(redis)
        ? 'DELIVERY_WORKER=false: this process queues messages but sends none; ' +
          'they wait in the queue until a replica with DELIVERY_WORKER=true runs'
        : 'DELIVERY_WORKER=false is ignored without Redis: in embedded mode this process sends its own messages',
    );
  }

  if (production && !flag('SMTP_REQUIRE_TLS') && channels.some((channel) => chains[channel].includes('smtp'))) {
    notices.push(
      'SMTP_REQUIRE_TLS=false in production: a relay that does not offer STARTTLS gets codes in plain text; ' +
        'only for a relay inside your network',
    );
  }

  const testDestinations = parseTestDestinations(get('OTP_TEST_DESTINATIONS'), length, problems);
  const testCount = Object.keys(testDestinations).length;
  if (testCount > 0) {
    notices.push(
      `OTP_TEST_DESTINATIONS is set: ${testCount} destination${testCount > 1 ? 's' : ''} get a fixed code, ` +
        'no delivery, and at most OTP_MAX_ATTEMPTS wrong guesses a day' + (production ? ' (make sure they are accounts you own)' : ''),
    );
  }

  let smsAllowedCountries: string[] | undefined;
  const countries = list('SMS_ALLOWED_COUNTRIES').map((c) => c.toUpperCase());
  if (countries.length > 0) {
    const unknown = countries.filter((code) => !/^[A-Z]{2}$/.test(code) || !isSupportedCountry(code));
    if (unknown.length > 0) {
      problems.push({
        variable: 'SMS_ALLOWED_COUNTRIES',
        message: `SMS_ALLOWED_COUNTRIES must list ISO 3166 alpha-2 country codes; not one: ${unknown.join(', ')}`,
        warning: `SMS_ALLOWED_COUNTRIES has unknown country codes (${unknown.join(', ')}): they are ignored`,
      });
    }
    smsAllowedCountries = countries.filter((code) => !unknown.includes(code));
  }
  const smsAllowedNumberTypes = parseNumberTypes(list('SMS_ALLOWED_NUMBER_TYPES'), defaults.SMS_ALLOWED_NUMBER_TYPES!, problems);

  const configuration: AppConfiguration = {
    app: {
      env: mode,
      name: PACKAGE.name,
      version: PACKAGE.version,
      commit: get('GIT_COMMIT') ?? readBuildCommit() ?? 'unknown',
      port: num('PORT'),
      host: get('HOST') ?? defaults.HOST!,
      trustProxy: parseTrustProxy(get('TRUST_PROXY')),
      shutdownDrainMs: num('SHUTDOWN_DRAIN_MS'),
      readinessRequiresChannels: flag('READINESS_REQUIRES_CHANNELS'),
      uiEnabled: flag('UI_ENABLED'),
      bodyLimitBytes: 64 * 1024,
    },
    redis,
    database: {
      url: get('DATABASE_URL'),
      embeddedDir: mode === 'development' ? './.data/pglite' : undefined,
    },
    auth: { jwtSecret: jwt.value, jwtSecretGenerated: jwt.generated, apiKeys, developmentKeyFile, sessions },
    otp: {
      secret: otpSecret.value,
      secretGenerated: otpSecret.generated,
      length,
      ttlSeconds,
      maxAttempts: num('OTP_MAX_ATTEMPTS'),
      maxSends: num('OTP_MAX_SENDS'),
      resendCooldownSeconds: num('OTP_RESEND_COOLDOWN_SECONDS'),
      maxSendsPerHour,
      maxSendsPerDay,
      rateLimitIpPerMinute: num('RATE_LIMIT_IP_PER_MINUTE'),
      apiKeyRateLimitPerMinute: num('API_KEY_RATE_LIMIT_PER_MINUTE'),
      loginMaxFailures: num('LOGIN_MAX_FAILURES'),
      passwordHashConcurrency: num('PASSWORD_HASH_CONCURRENCY'),
      smsAllowedCountries,
      smsAllowedNumberTypes,
      testDestinations,
      fixedCode,
    },
    messaging: {
      channels,
      chains,
      providers,
      webOtpDomain: get('OTP_WEBOTP_DOMAIN'),
      smtp: {
        host: get('SMTP_HOST'),
        port: num('SMTP_PORT'),
        secure: flag('SMTP_SECURE'),
        requireTls: flag('SMTP_REQUIRE_TLS'),
        user: get('SMTP_PASSWORD') !== undefined ? get('SMTP_USER') : undefined,
        password: get('SMTP_USER') !== undefined ? get('SMTP_PASSWORD') : undefined,
        from: get('SMTP_FROM'),
      },
      twilio: {
        accountSid: get('TWILIO_ACCOUNT_SID'),
        authToken: get('TWILIO_AUTH_TOKEN'),
        from: get('TWILIO_FROM'),
        messagingServiceSid: get('TWILIO_MESSAGING_SERVICE_SID'),
        verifyServiceSid: get('TWILIO_VERIFY_SERVICE_SID'),
        whatsappFrom: get('TWILIO_WHATSAPP_FROM')?.replace(/^whatsapp:/, ''),
        apiBaseUrl: get('TWILIO_API_BASE_URL')?.replace(/\/+$/, ''),
      },
      aws: {
        region: get('AWS_REGION'),
        accessKeyId: get('AWS_SECRET_ACCESS_KEY') !== undefined ? get('AWS_ACCESS_KEY_ID') : undefined,
        secretAccessKey: get('AWS_ACCESS_KEY_ID') !== undefined ? get('AWS_SECRET_ACCESS_KEY') : undefined,
        endpointSns: get('AWS_ENDPOINT_URL_SNS') ?? get('AWS_ENDPOINT_URL'),
        endpointSes: get('AWS_ENDPOINT_URL_SES') ?? get('AWS_ENDPOINT_URL'),
        sesFrom: get('SES_FROM'),
      },
      sendgrid: {
        apiKey: get('SENDGRID_API_KEY'),
        from: get('SENDGRID_FROM'),
        apiBaseUrl: (get('SENDGRID_API_BASE_URL') ?? defaults.SENDGRID_API_BASE_URL!).replace(/\/+$/, ''),
      },
      circuit: { failureThreshold: num('CIRCUIT_FAILURE_THRESHOLD'), openSeconds: num('CIRCUIT_OPEN_SECONDS') },
      delivery: {
        attempts: num('DELIVERY_ATTEMPTS'),
        backoffMs: num('DELIVERY_BACKOFF_MS'),
        // Embedded mode has no queue another process could work on: it always delivers itself.
        worker: !usesRedis(redis) || deliveryWorker,
      },
      timeouts: PROVIDER_TIMEOUTS,
    },
  };

  return { configuration, problems, notices, variables: merged };
}

/** What each provider needs; a value present but malformed counts as missing for the provider too. */
function assessProviders(get: (name: string) => string | undefined, production: boolean): Record<ProviderId, ProviderState> {
  const missingOf = (...names: string[]) => names.filter((name) => get(name) === undefined);
  const twilioSender = get('TWILIO_FROM') ?? get('TWILIO_MESSAGING_SERVICE_SID');
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
    states[id] = { configured: missing.length === 0, missing, allowed: !(production && id === 'console') };
  }
  return states;
}

/** Relative to the working directory, beside the embedded database. */
export const DEVELOPMENT_API_KEY_FILE = './.data/api-key';

/** Each entry named: by its `name:` or, without one, by its position (`key1`, `key2`…). */
function apiKeysOf(value: string | undefined, scope: ApiKeyScope): ApiKey[] {
  if (value === undefined) return [];
  return listEntries(value).map((entry, index) => {
    const parsed = parseApiKeyEntry(entry)!;
    return { name: parsed.name ?? `key${index + 1}`, key: parsed.key, scope };
  });
}

/**
 * A name must say which application called, so it names one key; and a key opens one scope, so an
 * application's key can never clear limits or manage users. Messages name entries, never keys.
 * Returns the keys to accept: an admin entry that repeats an application key is left out.
 */
function checkApiKeys(keys: ApiKey[], problems: ConfigProblem[]): ApiKey[] {
  const variableOf = (key: ApiKey) => (key.scope === 'admin' ? 'ADMIN_API_KEYS' : 'API_KEYS');
  return keys.filter((key, index) => {
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
}

const DEFAULT_SENTINEL_NAME = 'mymaster';

/**
 * One Redis server, one cluster or one Sentinel-watched master, never two: which store an operator
 * meant cannot be guessed, and a replica on another one would not share limits or the queue with
 * the rest. When more than one is set, the cluster wins, then Sentinel (the more specific settings).
 */
function redisTarget(
  url: string | undefined,
  seeds: string | undefined,
  sentinels: string | undefined,
  sentinelName: string | undefined,
  problems: ConfigProblem[],
): RedisConfig {
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
  if (seeds !== undefined) return { url: undefined, clusterNodes: nodesOf(seeds) };
  if (sentinels !== undefined) {
    return { url: undefined, clusterNodes: undefined, sentinels: nodesOf(sentinels), sentinelName: sentinelName ?? DEFAULT_SENTINEL_NAME };
  }
  return { url, clusterNodes: undefined };
}

function nodesOf(list: string): RedisNode[] {
  const nodes = new Map<string, RedisNode>();
  for (const entry of listEntries(list)) {
    const node = parseRedisSeed(entry)!;
    nodes.set(`${node.host}:${node.port}`, node);
  }
  return [...nodes.values()];
}

function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined) return false;
  if (/^\d{1,2}$/.test(value)) return Number(value) === 0 ? false : Number(value);
  return value.split(',').map((entry) => entry.trim()).filter(Boolean);
}

/** Premium-rate and the other costly types stay refused unless named; an unknown name is a typo, never "allow all". */
function parseNumberTypes(names: string[], fallback: string, problems: ConfigProblem[]): PhoneNumberType[] {
  const wanted = names.map((name) => name.toLowerCase());
  const unknown = wanted.filter((name) => !(PHONE_NUMBER_TYPES as readonly string[]).includes(name));
  const known = [...new Set(wanted.filter((name) => !unknown.includes(name)))] as PhoneNumberType[];
  if (unknown.length > 0) {
    const usable = known.length > 0 ? known.join(',') : fallback;
    problems.push({
      variable: 'SMS_ALLOWED_NUMBER_TYPES',
      message: `SMS_ALLOWED_NUMBER_TYPES must list number types of ${PHONE_NUMBER_TYPES.join(', ')}; not one: ${unknown.join(', ')}`,
      warning: `SMS_ALLOWED_NUMBER_TYPES has unknown number types (${unknown.join(', ')}): codes go to ${usable} numbers`,
    });
    if (known.length === 0) return fallback.split(',') as PhoneNumberType[];
  }
  return known.length > 0 ? known : (fallback.split(',') as PhoneNumberType[]);
}

function parseTestDestinations(value: string | undefined, length: number, problems: ConfigProblem[]): Record<string, string> {
  const destinations: Record<string, string> = {};
  if (value === undefined) return destinations;
  for (const entry of value.split(',').map((item) => item.trim()).filter(Boolean)) {
    const separator = entry.lastIndexOf(':');
    const destination = separator > 0 ? entry.slice(0, separator).trim() : '';
    const code = separator > 0 ? entry.slice(separator + 1).trim() : '';
    const normalized = normalizeTestDestination(destination);
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
  return destinations;
}

/** The same normalization as every destination of a send, so a fixed code matches the address a send is keyed by. */
function normalizeTestDestination(destination: string): string | undefined {
  return parseContact(destination)?.value;
}

/** A commit stamped into the image at build time (`dist/COMMIT`), when GIT_COMMIT is not set. */
function readBuildCommit(): string | undefined {
  try {
    const value = readFileSync(new URL('../COMMIT', import.meta.url), 'utf8').trim();
    return /^[\w.-]{1,64}$/.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
