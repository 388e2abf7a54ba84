import type { PhoneNumberType } from '../otp/destinations/addresses.js';

export type Mode = 'development' | 'test' | 'production';

export const CHANNELS = ['email', 'sms', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];

export const PROVIDERS_BY_CHANNEL = {
  email: ['smtp', 'ses', 'sendgrid', 'console'],
  sms: ['twilio-verify', 'twilio', 'sns', 'console'],
  whatsapp: ['twilio-whatsapp', 'console'],
} as const satisfies Record<Channel, readonly string[]>;
export type ProviderId = (typeof PROVIDERS_BY_CHANNEL)[Channel][number];

/** The variable that orders each channel's chain, for messages that name it. */
export const CHAIN_VARIABLE: Record<Channel, string> = {
  email: 'EMAIL_PROVIDERS',
  sms: 'SMS_PROVIDERS',
  whatsapp: 'WHATSAPP_PROVIDERS',
};

/** `false` trusts no proxy; a number trusts that many hops; a list trusts those addresses/ranges. */
export type TrustProxy = false | number | string[];

export interface AppConfig {
  env: Mode;
  name: string;
  version: string;
  commit: string;
  port: number;
  host: string;
  trustProxy: TrustProxy;
  shutdownDrainMs: number;
  /** Whether /health/ready also fails when an enabled channel has no usable provider. */
  readinessRequiresChannels: boolean;
  /** Whether the reference sign-in pages are served under /ui/. */
  uiEnabled: boolean;
  bodyLimitBytes: number;
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

export interface DatabaseConfig {
  /** Unset = embedded PGlite. */
  url: string | undefined;
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

export interface AuthConfig {
  jwtSecret: string;
  /** True when no JWT_SECRET was given and a random one was made for this process. */
  jwtSecretGenerated: boolean;
  /** API_KEYS and ADMIN_API_KEYS, each with its scope. */
  apiKeys: ApiKey[];
  /** Development without API_KEYS: the file a key is generated into once and read from afterwards. */
  developmentKeyFile?: string;
  sessions: SessionsConfig;
}

export interface SessionsConfig {
  /** A refresh token unused for this long expires, and its session with it (REFRESH_TOKEN_TTL_DAYS). */
  refreshTokenTtlDays: number;
  /** A session ends this long after sign-in however often it refreshes (SESSION_MAX_DAYS). */
  maxDays: number;
}

export interface OtpConfig {
  secret: string;
  secretGenerated: boolean;
  length: number;
  ttlSeconds: number;
  maxAttempts: number;
  maxSends: number;
  resendCooldownSeconds: number;
  maxSendsPerHour: number;
  maxSendsPerDay: number;
  rateLimitIpPerMinute: number;
  apiKeyRateLimitPerMinute: number;
  /** Wrong passwords per login identifier per 15 minutes, whether or not the account exists. */
  loginMaxFailures: number;
  /** Password hashes (argon2id) computed at once by this process. */
  passwordHashConcurrency: number;
  smsAllowedCountries: string[] | undefined;
  /** SMS_ALLOWED_NUMBER_TYPES: never empty. */
  smsAllowedNumberTypes: PhoneNumberType[];
  /** Normalized destination → fixed code. */
  testDestinations: Record<string, string>;
  fixedCode: string | undefined;
}

export interface SmtpConfig {
  host: string | undefined;
  port: number;
  secure: boolean;
  /** Without implicit TLS: refuse a relay (off this machine) that cannot upgrade with STARTTLS. */
  requireTls: boolean;
  user: string | undefined;
  password: string | undefined;
  from: string | undefined;
}

export interface TwilioConfig {
  accountSid: string | undefined;
  authToken: string | undefined;
  from: string | undefined;
  messagingServiceSid: string | undefined;
  verifyServiceSid: string | undefined;
  whatsappFrom: string | undefined;
  apiBaseUrl: string | undefined;
}

export interface AwsConfig {
  region: string | undefined;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  endpointSns: string | undefined;
  endpointSes: string | undefined;
  sesFrom: string | undefined;
}

export interface SendgridConfig {
  apiKey: string | undefined;
  from: string | undefined;
  apiBaseUrl: string;
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

export interface MessagingConfig {
  channels: Channel[];
  chains: Record<Channel, ProviderId[]>;
  providers: Record<ProviderId, ProviderState>;
  webOtpDomain: string | undefined;
  smtp: SmtpConfig;
  twilio: TwilioConfig;
  aws: AwsConfig;
  sendgrid: SendgridConfig;
  circuit: { failureThreshold: number; openSeconds: number };
  /** worker: whether this process works on the delivery queue (always, in embedded mode). */
  delivery: { attempts: number; backoffMs: number; worker: boolean };
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
  /** The merged variables (files under config/ overlaid by the environment), for the report. */
  variables: Record<string, string>;
}
