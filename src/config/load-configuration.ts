import { readFileSync } from 'node:fs';
import { readConfigFiles } from './config-files.js';
import {
  applicationKeyGiven,
  apiKeysDistinct,
  bothOrNeither,
  dailyLimitCoversHourly,
  deliveryWorkerNotices,
  enabledChannelsCanDeliver,
  fixedCodeAllowed,
  fraudSettingsUseful,
  knownChannels,
  knownCountries,
  knownNumberTypes,
  knownProviders,
  modeIsKnown,
  oneRedisTarget,
  plainTextSmtpNotices,
  providerStates,
  type Reading,
  type Ruling,
  secretGiven,
  secretsDiffer,
  signingKeyGiven,
  storesGivenInProduction,
  testDestinationsWellFormed,
  textCodesShortLived,
  webhookSecretGiven,
} from './configuration.rules.js';
import {
  type AppConfiguration,
  type ConfigProblem,
  type FedParts,
  type LoadedConfiguration,
  type Mode,
  usesRedis,
} from './configuration.types.js';
import { defaultsFor, fedFields, type FedFields, KNOWN_VARIABLES, type VariableName, VARIABLES, type VariableValues } from './variables.js';

export { DEVELOPMENT_API_KEY_FILE } from './configuration.rules.js';

type Env = Record<string, string | undefined>;

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

/** Not a variable: operators have no reason to change them, and tests shorten them on the configuration object. */
const PROVIDER_TIMEOUTS = { connectMs: 10_000, requestMs: 15_000 };

/** Prefixes of this service's variables: an unknown name with one of them is most likely a typo. */
const OWN_PREFIXES = [
  'OTP_',
  'SMTP_',
  'TWILIO_',
  'SENDGRID_',
  'SES_',
  'SMS_',
  'EMAIL_',
  'WHATSAPP_',
  'CIRCUIT_',
  'DELIVERY_',
  'RATE_LIMIT_',
  'FRAUD_',
  'WEBHOOK_',
  'SUSPECT_',
  'SNS_',
];

export function resolveMode(env: Env): Mode {
  const value = env.NODE_ENV?.trim();
  return value === 'production' || value === 'test' ? value : 'development';
}

/**
 * Reads, merges and validates the whole configuration at once, so that every problem can be
 * reported together: each variable against its format (variables.ts), then the rules that tie
 * several together (configuration.rules.ts). Pure apart from reading config/: the same input gives
 * the same output, except for the random development secrets made when none are given.
 */
export function loadConfiguration(env: Env, options: { configDir?: string } = {}): LoadedConfiguration {
  const mode = resolveMode(env);
  const found = new Findings();
  found.check(modeIsKnown(env.NODE_ENV, mode));

  const files = readConfigFiles(mode, options.configDir);
  found.check(files.problems.map((problem) => ({ ...problem, warning: `${problem.message}: the entry is ignored` })));

  // Environment over files over defaults. An empty variable counts as unset, which is what `FOO=` in a
  // Kubernetes manifest or a .env file means to an operator.
  const fromEnv: Record<string, string> = {};
  for (const name of KNOWN_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') fromEnv[name] = value.trim();
  }
  const defaults = defaultsFor(mode);
  const merged: Record<string, string> = { ...defaults, ...files.values, ...fromEnv };

  for (const name of Object.keys(env)) {
    if (!KNOWN_VARIABLES.has(name) && OWN_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      found.notice(`${name} is not a setting this service reads (a typo?); it is ignored`);
    }
  }

  const read = readVariables(mode, merged, defaults, found);

  found.check(storesGivenInProduction(read));
  const redis = found.take(oneRedisTarget(read));
  const jwt = found.take(secretGiven(read, 'JWT_SECRET', 'it signs access tokens', 'access tokens stop working when the process restarts'));
  const otpSecret = found.take(
    secretGiven(
      read,
      'OTP_SECRET',
      'it keys code hashing and the encryption of queued messages',
      'codes issued before a restart stop working',
    ),
  );
  found.check(secretsDiffer(jwt, otpSecret));
  const signingKey = found.take(signingKeyGiven(read, jwt));
  const apiKeys = found.take(apiKeysDistinct(read));
  const developmentKeyFile = found.take(applicationKeyGiven(read, apiKeys));

  const channels = found.take(knownChannels(read));
  const chains = found.take(knownProviders(read));
  const providers = providerStates(read);
  found.check(enabledChannelsCanDeliver(channels, chains, providers));
  const smtpLogin = found.take(bothOrNeither(read, 'SMTP_USER', 'SMTP_PASSWORD', 'SMTP authentication'));
  const awsKey = found.take(bothOrNeither(read, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS static credentials'));

  const ttlSeconds = found.take(textCodesShortLived(read, channels));
  const maxSendsPerDay = found.take(dailyLimitCoversHourly(read));
  const fixedCode = found.take(fixedCodeAllowed(read));
  found.notice(...deliveryWorkerNotices(read, redis));
  found.notice(...plainTextSmtpNotices(read, channels, chains));
  const testDestinations = found.take(testDestinationsWellFormed(read));
  const smsAllowedCountries = found.take(knownCountries(read));
  const smsAllowedNumberTypes = found.take(knownNumberTypes(read, defaults.SMS_ALLOWED_NUMBER_TYPES!));
  found.notice(...fraudSettingsUseful(read, channels, smsAllowedCountries));
  const webhookSecret = found.take(webhookSecretGiven(read));

  const { values } = read;
  // One part of the configuration: the fields its variables feed, and `rest`, which the compiler holds to
  // exactly the fields no variable feeds, so a field is never set twice or forgotten.
  const part = <Path extends keyof FedParts>(path: Path, rest: Omit<FedParts[Path], keyof FedFields<Path>>) =>
    ({ ...fedFields(values, path), ...rest }) as FedParts[Path];

  const configuration: AppConfiguration = {
    app: part('app', {
      env: mode,
      name: PACKAGE.name,
      version: PACKAGE.version,
      commit: values.GIT_COMMIT ?? readBuildCommit() ?? 'unknown',
    }),
    redis,
    database: part('database', { embeddedDir: mode === 'development' ? './.data/pglite' : undefined }),
    auth: part('auth', {
      jwtSecret: jwt.value,
      jwtSecretGenerated: jwt.generated,
      jwtPrivateKey: signingKey.privateKey,
      jwtPrivateKeyGenerated: signingKey.generated,
      developmentJwtKeyFile: signingKey.file,
      apiKeys,
      developmentKeyFile,
      sessions: part('auth.sessions', {}),
    }),
    otp: part('otp', {
      secret: otpSecret.value,
      secretGenerated: otpSecret.generated,
      ttlSeconds,
      maxSendsPerDay,
      smsAllowedCountries,
      smsAllowedNumberTypes,
      testDestinations,
      fixedCode,
      fraud: part('otp.fraud', {}),
    }),
    messaging: part('messaging', {
      channels,
      chains,
      providers,
      smtp: part('messaging.smtp', { user: smtpLogin?.[0], password: smtpLogin?.[1] }),
      twilio: part('messaging.twilio', {}),
      aws: part('messaging.aws', {
        accessKeyId: awsKey?.[0],
        secretAccessKey: awsKey?.[1],
        endpointSns: values.AWS_ENDPOINT_URL_SNS ?? values.AWS_ENDPOINT_URL,
        endpointSes: values.AWS_ENDPOINT_URL_SES ?? values.AWS_ENDPOINT_URL,
      }),
      sendgrid: part('messaging.sendgrid', {}),
      circuit: part('messaging.circuit', {}),
      // Embedded mode has no queue another process could work on: it always delivers itself.
      delivery: part('messaging.delivery', { worker: !usesRedis(redis) || values.DELIVERY_WORKER }),
      receipts: part('messaging.receipts', {}),
      suspect: part('messaging.suspect', {}),
      events: part('messaging.events', { secret: webhookSecret }),
      timeouts: PROVIDER_TIMEOUTS,
    }),
  };

  return { configuration, problems: found.problems, notices: found.notices, variables: merged };
}

/** Problems and notices in the order they were found, which is the order an operator reads them. */
class Findings {
  readonly problems: ConfigProblem[] = [];
  readonly notices: string[] = [];

  check(problems: ConfigProblem[]): void {
    this.problems.push(...problems);
  }

  notice(...notices: string[]): void {
    this.notices.push(...notices);
  }

  /** A rule's problems and notices recorded; its value returned. */
  take<T>(ruling: Ruling<T>): T {
    this.check(ruling.problems);
    this.notice(...(ruling.notices ?? []));
    return ruling.value;
  }
}

/**
 * Each variable in effect checked against its format, in the table's order. A malformed value falls back
 * to its default (fatal in production, where every problem is), or counts as unset when it has none.
 */
function readVariables(mode: Mode, merged: Record<string, string>, defaults: Record<string, string>, found: Findings): Reading {
  const malformed = new Set<string>();
  const values: Record<string, unknown> = {};
  for (const variable of VARIABLES) {
    const { name, format } = variable;
    const given = merged[name];
    const problem = given === undefined ? undefined : format.problem(given);
    if (problem !== undefined) {
      const message = `${name} ${problem}`;
      const fallback = defaults[name];
      malformed.add(name);
      found.check([
        {
          variable: name,
          message,
          warning: fallback !== undefined ? `${message}: using the default ${fallback}` : `${message}: it is ignored`,
        },
      ]);
    }
    const effective = problem === undefined ? given : defaults[name];
    values[name] = effective === undefined ? format.unset : format.read(effective);
  }
  return {
    mode,
    raw: (name: VariableName) => (malformed.has(name) ? undefined : merged[name]),
    malformed: (name: VariableName) => malformed.has(name),
    values: values as VariableValues,
  };
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
