import type { PhoneNumberType } from '../otp/destinations/addresses.js';
import type { FedFields, Mode, VariableName } from './variables.js';

export type { Mode } from './variables.js';
export type { TrustProxy } from './variable-formats.js';

export const CHANNELS = ['email', 'sms', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];

export const PROVIDERS_BY_CHANNEL = {
  email: ['smtp', 'ses', 'sendgrid', 'console'],
  sms: ['twilio-verify', 'twilio', 'sns', 'console'],
  whatsapp: ['twilio-whatsapp', 'console'],
} as const satisfies Record<Channel, readonly string[]>;
export type ProviderId = (typeof PROVIDERS_BY_CHANNEL)[Channel][number];

/** The variable that orders each channel's chain, for messages that name it. */
export const CHAIN_VARIABLE = {
  email: 'EMAIL_PROVIDERS',
  sms: 'SMS_PROVIDERS',
  whatsapp: 'WHATSAPP_PROVIDERS',
} as const satisfies Record<Channel, VariableName>;

/*
 * Each part of the configuration extends the fields its variables feed directly (`feeds` in variables.ts,
 * typed by their formats and defaults); what it declares itself is what rules derive from several
 * variables, or what no variable sets.
 */

export interface AppConfig extends FedFields<'app'> {
  env: Mode;
  name: string;
  version: string;
  commit: string;
}

export interface RedisNode {
  host: string;
  port: number;
}

/** At most one of `url`, `clusterNodes` and `sentinels` is set; none = embedded mode: in-memory stores and in-process delivery. */
export interface RedisConfig {
  /** One Redis server. */
  url: string | undefined;
  /** Seed nodes of a Redis Cluster; the rest of the cluster is discovered from them. */
  clusterNodes: RedisNode[] | undefined;
  /** Sentinels that say which server is the master of `sentinelName` now, and follow its failovers. */
  sentinels?: RedisNode[];
  sentinelName?: string;
}

/** Whether OTP state, limits and the delivery queue live in Redis (a server, a cluster or a Sentinel-watched master). */
export function usesRedis(config: RedisConfig): boolean {
  return config.url !== undefined || config.clusterNodes !== undefined || config.sentinels !== undefined;
}

/** `url` unset = embedded PGlite. */
export interface DatabaseConfig extends FedFields<'database'> {
  /** Directory of the embedded database; `undefined` = in memory. */
  embeddedDir: string | undefined;
}

/** Which routes a key opens: `/v1/verifications` (API_KEYS) or `/v1/admin` (ADMIN_API_KEYS), never both. */
export type ApiKeyScope = 'application' | 'admin';

export interface ApiKey {
  /** Shown in logs, metrics and audit lines in place of the key. */
  name: string;
  key: string;
  scope: ApiKeyScope;
  /** The development key made because API_KEYS was not set: printed at start-up, so not scrubbed from the log. */
  generated?: boolean;
}

export interface AuthConfig extends FedFields<'auth'> {
  jwtSecret: string;
  /** True when no JWT_SECRET was given and a random one was made for this process. */
  jwtSecretGenerated: boolean;
  /** ES256: the signing key in PEM (JWT_PRIVATE_KEY, or made for this process); undefined with HS256. */
  jwtPrivateKey: string | undefined;
  /** True when no JWT_PRIVATE_KEY was given and the key was made for this process. */
  jwtPrivateKeyGenerated: boolean;
  /** Development without JWT_PRIVATE_KEY: the file the key is kept in across restarts. */
  developmentJwtKeyFile?: string;
  /** API_KEYS and ADMIN_API_KEYS, each with its scope. */
  apiKeys: ApiKey[];
  /** Development without API_KEYS: the file a key is generated into once and read from afterwards. */
  developmentKeyFile?: string;
  sessions: SessionsConfig;
}

/** A session ends when its refresh token goes unused for `refreshTokenTtlDays`, or `maxDays` after sign-in at the latest. */
export type SessionsConfig = FedFields<'auth.sessions'>;

export interface OtpConfig extends FedFields<'otp'> {
  secret: string;
  secretGenerated: boolean;
  /** OTP_TTL_SECONDS, at most 600 when SMS or WhatsApp is enabled. */
  ttlSeconds: number;
  /** OTP_MAX_SENDS_PER_DAY, at least the hourly limit. */
  maxSendsPerDay: number;
  smsAllowedCountries: string[] | undefined;
  /** SMS_ALLOWED_NUMBER_TYPES: never empty. */
  smsAllowedNumberTypes: PhoneNumberType[];
  /** Normalized destination → fixed code. */
  testDestinations: Record<string, string>;
  fixedCode: string | undefined;
  fraud: FraudConfig;
}

/**
 * The fraud guard's limits and suspension rule. `countryPerHour` always has `*`; a count of 0 is no
 * cap, and `minConversion` 0 never suspends.
 */
export type FraudConfig = FedFields<'otp.fraud'>;

/** `requireTls`, without implicit TLS: refuse a relay (off this machine) that cannot upgrade with STARTTLS. */
export interface SmtpConfig extends FedFields<'messaging.smtp'> {
  /** User and password: both or neither. */
  user: string | undefined;
  password: string | undefined;
}

export type TwilioConfig = FedFields<'messaging.twilio'>;

export interface AwsConfig extends FedFields<'messaging.aws'> {
  /** Key id and secret: both or neither (neither = the SDK's default credential chain). */
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  /** The service's own endpoint override, else AWS_ENDPOINT_URL. */
  endpointSns: string | undefined;
  endpointSes: string | undefined;
}

export type SendgridConfig = FedFields<'messaging.sendgrid'>;

export interface DeliveryConfig extends FedFields<'messaging.delivery'> {
  /** Whether this process works on the delivery queue (always, in embedded mode). */
  worker: boolean;
}

/** Where delivery receipts come in, and what verifies them. */
export type ReceiptsConfig = FedFields<'messaging.receipts'>;

/** When a provider whose codes are accepted but not entered is marked suspect. */
export type SuspectConfig = FedFields<'messaging.suspect'>;

/** Signed events to the receivers of WEBHOOK_URLS. */
export interface EventsConfig extends FedFields<'messaging.events'> {
  /** WEBHOOK_SECRET; set whenever `urls` is not empty. */
  secret: string | undefined;
}

export interface ProviderState {
  /** Every variable it needs is present and valid. */
  configured: boolean;
  /** What is missing or invalid, by variable name; empty when configured. */
  missing: string[];
  /** Allowed in this mode at all (the console provider is refused in production). */
  allowed: boolean;
}

/** How long a provider waits on its vendor; well under a code's lifetime, so a dead vendor fails over in time. */
export interface ProviderTimeouts {
  /** Opening a connection (TCP, TLS, and the SMTP greeting). */
  connectMs: number;
  /** Any one request, or for SMTP the wait for any one answer once connected. */
  requestMs: number;
}

export interface MessagingConfig extends FedFields<'messaging'> {
  channels: Channel[];
  chains: Record<Channel, ProviderId[]>;
  providers: Record<ProviderId, ProviderState>;
  smtp: SmtpConfig;
  twilio: TwilioConfig;
  aws: AwsConfig;
  sendgrid: SendgridConfig;
  circuit: FedFields<'messaging.circuit'>;
  delivery: DeliveryConfig;
  receipts: ReceiptsConfig;
  suspect: SuspectConfig;
  events: EventsConfig;
  timeouts: ProviderTimeouts;
}

export interface AppConfiguration {
  app: AppConfig;
  redis: RedisConfig;
  database: DatabaseConfig;
  auth: AuthConfig;
  otp: OtpConfig;
  messaging: MessagingConfig;
}

export type ConfigNamespace = keyof AppConfiguration;

/** Each part of the configuration that variables feed, by its `feeds` path. */
export interface FedParts {
  app: AppConfig;
  database: DatabaseConfig;
  auth: AuthConfig;
  'auth.sessions': SessionsConfig;
  otp: OtpConfig;
  'otp.fraud': FraudConfig;
  messaging: MessagingConfig;
  'messaging.smtp': SmtpConfig;
  'messaging.twilio': TwilioConfig;
  'messaging.aws': AwsConfig;
  'messaging.sendgrid': SendgridConfig;
  'messaging.circuit': MessagingConfig['circuit'];
  'messaging.delivery': DeliveryConfig;
  'messaging.receipts': ReceiptsConfig;
  'messaging.suspect': SuspectConfig;
  'messaging.events': EventsConfig;
}

export interface ConfigProblem {
  /** The variable at fault, as an operator would set it. */
  variable: string;
  /** Production wording: what is wrong and why it matters. */
  message: string;
  /** Development wording: what will not work and what happens instead. */
  warning: string;
}

export interface LoadedConfiguration {
  configuration: AppConfiguration;
  /** Fatal in production, warnings in development and test. */
  problems: ConfigProblem[];
  /** Worth saying in any mode, never fatal (test destinations in production, unknown variables). */
  notices: string[];
  /** The variables in effect (defaults, overlaid by files under config/, overlaid by the environment), for the report. */
  variables: Record<string, string>;
}
