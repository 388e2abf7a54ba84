import { isSupportedCountry } from 'libphonenumber-js';
import {
  allOf,
  apiKeyList,
  decimal,
  hourlyCaps,
  atLeastCharacters,
  atMostCharacters,
  ecPrivateKeyPem,
  ecPublicKeyPemList,
  type Format,
  httpUrl,
  matching,
  notEmpty,
  oneOf,
  readAs,
  redisNodeList,
  fraction,
  httpUrlList,
  listEntries,
  senderAddress,
  text,
  trueOrFalse,
  trustProxy,
  twilioSender,
  url,
  wholeNumber,
} from './variable-formats.js';

export type Mode = 'development' | 'test' | 'production';
export const MODES: readonly Mode[] = ['development', 'test', 'production'];

type Namespace = 'app' | 'database' | 'auth' | 'otp' | 'messaging';

/** One environment variable, with everything about it. */
export interface Variable {
  name: string;
  /** For operators: `.env.example` and the README's table of variables. */
  description: string;
  format: Format<unknown>;
  /** As an operator would write it; one for every mode, or one per mode. Unset and no default = the format's `unset`. */
  default?: string | Readonly<Record<Mode, string>>;
  /** The placeholder `.env.example` shows when the default (or nothing) would not show the shape of a value. */
  example?: string;
  /** Never printed: the start-up report masks it, logs scrub it, config files may not hold it. */
  secret?: true;
  /** A connection URL: its user and password are masked and scrubbed, its host is shown. */
  url?: true;
  /**
   * The configuration field that holds the value as read, `namespace.field` (or `namespace.group.field`);
   * its type is derived from the format and the default. Without one, a rule in `configuration.rules.ts`
   * (or `load-configuration.ts`) reads the variable with others.
   */
  feeds?: `${Namespace}.${string}`;
  /** Starts a group of variables in `.env.example` and the README. */
  section?: string;
}

/** SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR of every country its list does not name, when the list has no `*`. */
const COUNTRY_CAP = 200;

const LOCAL_ONLY = { development: '127.0.0.1', test: '127.0.0.1', production: '0.0.0.0' } as const;

/**
 * Every environment variable the service reads, in the order the start-up report, `.env.example` and the
 * README present them (`npm run config:docs` writes those two from this table; a unit test fails when
 * they differ). Adding a setting is one entry here plus its use.
 */
const TABLE = [
  {
    name: 'NODE_ENV',
    section: 'The service',
    description: 'development (default), test or production',
    format: oneOf(['development', 'test', 'production'], 'must be one of development, test, production'),
    example: 'development',
  },
  { name: 'PORT', description: 'HTTP port', format: wholeNumber(0, 65535), default: '3000', feeds: 'app.port' },
  {
    name: 'HOST',
    description: 'bind address: 127.0.0.1 (this machine only) in development and test, 0.0.0.0 (every interface) in production',
    format: notEmpty(),
    default: LOCAL_ONLY,
    feeds: 'app.host',
  },
  {
    name: 'TRUST_PROXY',
    description:
      'hop count or CIDR list of trusted proxies; unset = trust none (X-Forwarded-For is ignored, and the first request that carries ' +
      "one logs a warning: behind an ingress, every user would share the ingress's address)",
    format: trustProxy,
    feeds: 'app.trustProxy',
  },
  {
    name: 'HTTP_BODY_LIMIT_BYTES',
    description: 'largest request body accepted; a larger one is refused with 413 PAYLOAD_TOO_LARGE before it is read in full',
    format: wholeNumber(1024, 1048576),
    default: '65536',
    feeds: 'app.bodyLimitBytes',
  },
  {
    name: 'SHUTDOWN_DRAIN_MS',
    description: 'after SIGTERM, how long readiness answers 503 before the server stops accepting (ms)',
    format: wholeNumber(0, 20000),
    default: { development: '0', test: '0', production: '5000' },
    feeds: 'app.shutdownDrainMs',
  },
  {
    name: 'READINESS_REQUIRES_CHANNELS',
    description:
      'true: /health/ready also fails when an enabled channel has no usable provider (a provider outage then empties the Service); ' +
      'false: channels are reported in its details, /health/messaging and /metrics only',
    format: trueOrFalse,
    default: 'false',
    feeds: 'app.readinessRequiresChannels',
  },
  {
    name: 'UI_ENABLED',
    description: 'true: serve the reference sign-in pages under /ui/',
    format: trueOrFalse,
    default: { development: 'true', test: 'true', production: 'false' },
    feeds: 'app.uiEnabled',
  },
  {
    name: 'GIT_COMMIT',
    description: 'commit the running build was made from, shown by GET /health (unset: the one stamped into the image, if any)',
    format: matching(/^[\w.-]{1,64}$/, 'must be a commit id (letters, digits, . _ -)'),
  },

  {
    name: 'REDIS_URL',
    section: 'Stores',
    description: 'redis:// or rediss:// URL; unset = in-memory stores (development and test only)',
    format: url(['redis', 'rediss'], 'must be a redis:// or rediss:// URL'),
    url: true,
    example: 'redis://localhost:6379',
  },
  {
    name: 'REDIS_CLUSTER_NODES',
    description:
      'Redis Cluster instead of REDIS_URL: comma-separated host:port seed nodes, e.g. redis-0:6379,redis-1:6379,redis-2:6379 ' +
      '(the nodes must accept connections without a password or TLS); set one of the two',
    format: redisNodeList('host:port seed nodes (e.g. redis-0:6379,redis-1:6379)'),
  },
  {
    name: 'REDIS_SENTINELS',
    description:
      'Redis Sentinel instead of REDIS_URL: comma-separated host:port Sentinels, e.g. sentinel-0:26379,sentinel-1:26379,sentinel-2:26379 ' +
      '(Sentinels and the master must accept connections without a password or TLS); ' +
      'set one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS',
    format: redisNodeList('host:port Sentinels (e.g. sentinel-0:26379,sentinel-1:26379)'),
  },
  {
    name: 'REDIS_SENTINEL_NAME',
    description: 'with REDIS_SENTINELS: the master group the Sentinels monitor (mymaster when unset)',
    // Sentinel accepts any name without spaces; these characters cover every name seen in practice.
    format: matching(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dots, dashes or underscores'),
  },
  {
    name: 'DATABASE_URL',
    description: 'postgres:// URL; unset = embedded PGlite (development and test only)',
    format: url(['postgres', 'postgresql'], 'must be a postgres:// or postgresql:// URL'),
    url: true,
    example: 'postgres://otp:change-me@localhost:5432/otp',
    feeds: 'database.url',
  },

  {
    name: 'JWT_SECRET',
    section: 'Sign-in and API keys',
    description: 'at least 32 characters; signs access tokens when JWT_ALGORITHM is HS256 (required in production)',
    format: atLeastCharacters(32),
    secret: true,
    example: 'replace-with-32-or-more-random-characters-jwt',
  },
  {
    name: 'JWT_ALGORITHM',
    description:
      'how access tokens are signed: ES256 (other services verify them with the public key published at /.well-known/jwks.json) ' +
      'or HS256 (with JWT_SECRET, which every verifier must then hold)',
    format: readAs(oneOf(['ES256', 'HS256'], 'must be ES256 or HS256'), (value) => value as 'ES256' | 'HS256'),
    default: 'ES256',
    feeds: 'auth.jwtAlgorithm',
  },
  {
    name: 'JWT_PRIVATE_KEY',
    description:
      'P-256 private key in PEM (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256); signs access tokens with ES256 ' +
      '(required in production with ES256). In development, when unset, one is generated once into ./.data/jwt-private-key.pem; ' +
      'in test, one is derived from JWT_SECRET (random without it)',
    format: ecPrivateKeyPem,
    secret: true,
  },
  {
    name: 'JWT_PREVIOUS_PUBLIC_KEYS',
    description:
      'P-256 public keys in PEM of keys that signed access tokens before JWT_PRIVATE_KEY: still published and accepted, ' +
      'so a rotation signs nobody out; drop a key once its last token has expired (15 minutes)',
    format: ecPublicKeyPemList,
    feeds: 'auth.jwtPreviousPublicKeys',
  },
  {
    name: 'REFRESH_TOKEN_TTL_DAYS',
    description: 'sliding lifetime of a refresh token in days: a session unused this long ends',
    format: wholeNumber(1, 365),
    default: '30',
    feeds: 'auth.sessions.refreshTokenTtlDays',
  },
  {
    name: 'SESSION_MAX_DAYS',
    description: 'absolute lifetime of a session in days, however often it refreshes',
    format: wholeNumber(1, 3650),
    default: '90',
    feeds: 'auth.sessions.maxDays',
  },
  {
    name: 'OTP_SECRET',
    description: 'at least 32 characters; keys code hashing and queued-message encryption (required in production)',
    format: atLeastCharacters(32),
    secret: true,
    example: 'replace-with-32-or-more-random-characters-otp',
  },
  {
    name: 'API_KEYS',
    description:
      'comma-separated name:key entries accepted in X-Api-Key for /v1/verifications (required in production). ' +
      'name: 1-32 of a-z, 0-9 and - (it is what logs, metrics and audit lines show; never the key); ' +
      'key: 16-256 printable characters without spaces or commas. An entry without name: is named by its position: key1, key2... ' +
      'In development, when unset, a key is generated once into ./.data/api-key and printed at start-up.',
    format: apiKeyList,
    secret: true,
    example: 'web:replace-with-a-long-random-api-key,mobile:replace-with-another-long-random-key',
  },
  {
    name: 'ADMIN_API_KEYS',
    description:
      'same format: the only keys accepted for /v1/admin (clearing limits, managing users); application keys are refused there, ' +
      'and these are refused on /v1/verifications; unset = /v1/admin answers 401',
    format: apiKeyList,
    secret: true,
    example: 'support:replace-with-a-long-random-admin-key',
  },
  {
    name: 'API_KEY_RATE_LIMIT_PER_MINUTE',
    description: "requests per API key per minute on /v1/verifications routes (a customer's whole backend often shares one IP)",
    format: wholeNumber(1, 1000000),
    default: '6000',
    feeds: 'otp.apiKeyRateLimitPerMinute',
  },

  {
    name: 'OTP_LENGTH',
    section: 'Codes, limits and delivery',
    description: 'code length, 6-10 digits',
    format: wholeNumber(6, 10),
    default: '6',
    feeds: 'otp.length',
  },
  {
    name: 'OTP_TTL_SECONDS',
    description: 'code lifetime in seconds (60-600 when SMS or WhatsApp is enabled)',
    format: wholeNumber(60, 86400),
    default: '600',
  },
  {
    name: 'OTP_MAX_ATTEMPTS',
    description: 'wrong codes allowed per verification before it locks',
    format: wholeNumber(1, 100),
    default: '5',
    feeds: 'otp.maxAttempts',
  },
  {
    name: 'OTP_MAX_SENDS',
    description: 'sends (first + resends) per verification',
    format: wholeNumber(1, 20),
    default: '5',
    feeds: 'otp.maxSends',
  },
  {
    name: 'OTP_RESEND_COOLDOWN_SECONDS',
    description: 'minimum gap between two sends to one destination',
    format: wholeNumber(0, 3600),
    default: '30',
    feeds: 'otp.resendCooldownSeconds',
  },
  {
    name: 'OTP_MAX_SENDS_PER_HOUR',
    description: 'sends per destination per hour',
    format: wholeNumber(1, 10000),
    default: '5',
    feeds: 'otp.maxSendsPerHour',
  },
  { name: 'OTP_MAX_SENDS_PER_DAY', description: 'sends per destination per day', format: wholeNumber(1, 100000), default: '10' },
  {
    name: 'RATE_LIMIT_IP_PER_MINUTE',
    description:
      'requests per end-user IP per minute on each public /v1/auth route, and on /v1/verifications for the clientIp a backend passes ' +
      "in the body of a send or check (a backend's own address is limited per key, not per IP)",
    format: wholeNumber(1, 1000000),
    default: '30',
    feeds: 'otp.rateLimitIpPerMinute',
  },
  {
    name: 'LOGIN_MAX_FAILURES',
    description: 'wrong passwords per login identifier per 15 minutes, then 429 LOGIN_RATE_LIMITED',
    format: wholeNumber(1, 10000),
    default: '10',
    feeds: 'otp.loginMaxFailures',
  },
  {
    name: 'PASSWORD_HASH_CONCURRENCY',
    description: 'password hashes computed at once; a request waiting over 2 s for one gets 503 SERVICE_BUSY',
    format: wholeNumber(1, 256),
    default: '4',
    feeds: 'otp.passwordHashConcurrency',
  },
  {
    name: 'OTP_CHANNELS',
    description: 'enabled channels, of email, sms, whatsapp',
    format: notEmpty('must name at least one channel'),
    default: 'email,sms',
  },
  {
    name: 'EMAIL_PROVIDERS',
    description: 'ordered email failover chain, of smtp, ses, sendgrid, console (console: development and test only)',
    format: notEmpty('must name at least one provider'),
    default: { development: 'smtp,console', test: 'smtp,console', production: 'smtp' },
  },
  {
    name: 'SMS_PROVIDERS',
    description: 'ordered SMS failover chain, of twilio-verify, twilio, sns, console (console: development and test only)',
    format: notEmpty('must name at least one provider'),
    default: { development: 'twilio,console', test: 'twilio,console', production: 'twilio' },
  },
  {
    name: 'WHATSAPP_PROVIDERS',
    description: 'ordered WhatsApp failover chain, of twilio-whatsapp, console',
    format: notEmpty('must name at least one provider'),
    default: 'twilio-whatsapp',
  },
  { name: 'SMS_ALLOWED_COUNTRIES', description: 'ISO 3166 alpha-2 list of countries SMS/WhatsApp may go to; unset = all', format: text() },
  {
    name: 'SMS_ALLOWED_NUMBER_TYPES',
    description:
      'phone number types (as libphonenumber names them) that may receive codes, of mobile, fixed_line, fixed_line_or_mobile, voip, ' +
      'toll_free, premium_rate, shared_cost, personal_number, pager, uan, voicemail',
    // Each name is checked against libphonenumber's types where the list is read, so the problem can name the unknown ones.
    format: notEmpty('must name at least one number type'),
    default: 'mobile,fixed_line_or_mobile,voip',
  },
  {
    name: 'OTP_WEBOTP_DOMAIN',
    description: 'domain for the WebOTP / SMS Retriever last line of SMS texts (@example.com #123456)',
    format: matching(
      /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i,
      'must be a bare domain name such as example.com',
    ),
    feeds: 'messaging.webOtpDomain',
  },
  {
    name: 'CIRCUIT_FAILURE_THRESHOLD',
    description: "consecutive failures that open a provider's circuit",
    format: wholeNumber(1, 1000),
    default: '5',
    feeds: 'messaging.circuit.failureThreshold',
  },
  {
    name: 'CIRCUIT_OPEN_SECONDS',
    description: 'how long a circuit stays open before one trial send',
    format: wholeNumber(1, 3600),
    default: '60',
    feeds: 'messaging.circuit.openSeconds',
  },
  {
    name: 'DELIVERY_ATTEMPTS',
    description: 'queue attempts of a whole chain before a delivery is failed',
    format: wholeNumber(1, 20),
    default: '5',
    feeds: 'messaging.delivery.attempts',
  },
  {
    name: 'DELIVERY_BACKOFF_MS',
    description: "first retry delay in ms; doubles each attempt, never past the code's expiry",
    format: wholeNumber(10, 600000),
    default: '1000',
    feeds: 'messaging.delivery.backoffMs',
  },
  {
    name: 'DELIVERY_WORKER',
    description: 'true: this process sends queued messages; false: it only queues them (API replicas beside worker replicas)',
    format: trueOrFalse,
    default: 'true',
  },
  {
    name: 'OTP_TEST_DESTINATIONS',
    description:
      'dest:code,... fixed codes, never delivered; send limits apply, and OTP_MAX_ATTEMPTS wrong guesses a day per destination ' +
      '(app-store review, CI)',
    format: text(),
    secret: true,
  },
  {
    name: 'OTP_FIXED_CODE',
    description: 'development/test only: every code is this (refused in production)',
    format: matching(/^\d{6,10}$/, 'must be 6 to 10 digits'),
    secret: true,
  },

  {
    name: 'SMS_MAX_SENDS_PER_PREFIX_PER_HOUR',
    section: 'Fraud guard (SMS pumping)',
    description:
      'SMS/WhatsApp sends per hour to numbers sharing all but their last 3 digits (a pumped range), then 429 DESTINATION_THROTTLED; ' +
      '0 = no cap',
    format: wholeNumber(0, 1000000),
    default: '10',
    feeds: 'otp.fraud.prefixPerHour',
  },
  {
    name: 'SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR',
    description:
      'SMS/WhatsApp sends per hour per destination country, as country:count entries: * for every country not named, ' +
      'e.g. *:200,GB:5000,US:5000 (a list without * keeps 200 for the others; 0 = no cap, and a country to refuse belongs in ' +
      'SMS_ALLOWED_COUNTRIES); then 429 DESTINATION_THROTTLED',
    format: hourlyCaps(
      'an ISO 3166 alpha-2 country code',
      (key) => /^[A-Za-z]{2}$/.test(key) && isSupportedCountry(key.toUpperCase()),
      COUNTRY_CAP,
    ),
    default: `*:${COUNTRY_CAP}`,
    feeds: 'otp.fraud.countryPerHour',
  },
  {
    name: 'OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR',
    description:
      'a ceiling on all sends of a channel per hour, across destinations: channel:count entries (e.g. sms:2000,whatsapp:500) or ' +
      'one number for every channel; unset = no cap; then 429 DESTINATION_THROTTLED',
    format: hourlyCaps('email, sms, whatsapp', (key) => ['email', 'sms', 'whatsapp'].includes(key.toLowerCase())),
    feeds: 'otp.fraud.channelPerHour',
  },
  {
    name: 'FRAUD_MIN_SAMPLE',
    description:
      'automatic suspension: SMS/WhatsApp sends older than FRAUD_GRACE_SECONDS a country needs in the last hour before its rate is judged',
    format: wholeNumber(1, 1000000),
    default: '30',
    feeds: 'otp.fraud.minSample',
  },
  {
    name: 'FRAUD_GRACE_SECONDS',
    description: 'automatic suspension: sends younger than this are not judged yet (the time a person needs to type a code)',
    format: wholeNumber(1, 3599),
    default: '120',
    feeds: 'otp.fraud.graceSeconds',
  },
  {
    name: 'FRAUD_MIN_CONVERSION',
    description:
      'automatic suspension: a country whose judged sends were approved at a lower rate than this is suspended (0-1; 0 = never suspend)',
    format: decimal(0, 1),
    default: '0.2',
    feeds: 'otp.fraud.minConversion',
  },
  {
    name: 'FRAUD_SUSPEND_MINUTES',
    description: 'automatic suspension: how long a country stays suspended (403 DESTINATION_SUSPENDED), unless an admin lifts it',
    format: wholeNumber(1, 10080),
    default: '60',
    feeds: 'otp.fraud.suspendMinutes',
  },

  {
    name: 'SMTP_HOST',
    section: 'smtp provider',
    description: 'smtp provider: server host',
    format: matching(/^[A-Za-z0-9.-]{1,253}$|^\[[0-9a-fA-F:.]+\]$/, 'must be a host name or IP address'),
    example: 'smtp.example.com',
    feeds: 'messaging.smtp.host',
  },
  {
    name: 'SMTP_PORT',
    description: 'smtp provider: port (587 = STARTTLS, 465 = implicit TLS)',
    format: wholeNumber(1, 65535),
    default: '587',
    feeds: 'messaging.smtp.port',
  },
  {
    name: 'SMTP_SECURE',
    description: 'smtp provider: true = implicit TLS (465); false = STARTTLS',
    format: trueOrFalse,
    default: 'false',
    feeds: 'messaging.smtp.secure',
  },
  {
    name: 'SMTP_REQUIRE_TLS',
    description: 'smtp provider: true = refuse a relay that cannot STARTTLS; false = plain text allowed (a relay inside the network)',
    format: trueOrFalse,
    default: 'true',
    feeds: 'messaging.smtp.requireTls',
  },
  {
    name: 'SMTP_USER',
    description: 'smtp provider: user (with SMTP_PASSWORD, or neither for a relay without auth)',
    format: allOf(notEmpty(), atMostCharacters(256, 'is too long')),
  },
  { name: 'SMTP_PASSWORD', description: 'smtp provider: password', format: notEmpty(), secret: true },
  {
    name: 'SMTP_FROM',
    description: 'smtp provider: sender address',
    format: senderAddress,
    example: 'Example <no-reply@example.com>',
    feeds: 'messaging.smtp.from',
  },

  {
    name: 'TWILIO_ACCOUNT_SID',
    section: 'Twilio providers',
    description: 'all Twilio providers: AC followed by 32 hex digits',
    format: matching(/^AC[0-9a-f]{32}$/, 'must be AC followed by 32 lower-case hex digits'),
    feeds: 'messaging.twilio.accountSid',
  },
  {
    name: 'TWILIO_AUTH_TOKEN',
    description: 'all Twilio providers: 32 hex digits',
    format: matching(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex digits'),
    secret: true,
    feeds: 'messaging.twilio.authToken',
  },
  {
    name: 'TWILIO_FROM',
    description: 'twilio SMS sender: E.164 number or alphanumeric sender id',
    format: twilioSender,
    feeds: 'messaging.twilio.from',
  },
  {
    name: 'TWILIO_MESSAGING_SERVICE_SID',
    description: 'twilio SMS sender: MG followed by 32 hex digits (instead of TWILIO_FROM)',
    format: matching(/^MG[0-9a-f]{32}$/, 'must be MG followed by 32 lower-case hex digits'),
    feeds: 'messaging.twilio.messagingServiceSid',
  },
  {
    name: 'TWILIO_VERIFY_SERVICE_SID',
    description: 'twilio-verify: VA followed by 32 hex digits',
    format: matching(/^VA[0-9a-f]{32}$/, 'must be VA followed by 32 lower-case hex digits'),
    feeds: 'messaging.twilio.verifyServiceSid',
  },
  {
    name: 'TWILIO_WHATSAPP_FROM',
    description: 'twilio-whatsapp sender: E.164 number',
    format: readAs(matching(/^(whatsapp:)?\+[1-9]\d{6,14}$/, 'must be an E.164 number (+14155550100)'), (value) =>
      value.replace(/^whatsapp:/, ''),
    ),
    feeds: 'messaging.twilio.whatsappFrom',
  },
  {
    name: 'TWILIO_API_BASE_URL',
    description: 'replaces scheme and host of every Twilio API call (proxies, tests)',
    format: readAs(httpUrl, withoutTrailingSlashes),
    feeds: 'messaging.twilio.apiBaseUrl',
  },

  {
    name: 'AWS_REGION',
    section: 'AWS providers (sns, ses)',
    description: 'sns and ses: region',
    format: matching(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1'),
    feeds: 'messaging.aws.region',
  },
  {
    name: 'AWS_ACCESS_KEY_ID',
    description: 'sns and ses: access key id (unset = SDK default credential chain)',
    format: matching(/^[A-Z0-9]{16,128}$/, 'must be 16 to 128 upper-case letters and digits'),
  },
  { name: 'AWS_SECRET_ACCESS_KEY', description: 'sns and ses: secret access key', format: atLeastCharacters(16), secret: true },
  { name: 'AWS_ENDPOINT_URL', description: 'endpoint override for every AWS service', format: httpUrl },
  { name: 'AWS_ENDPOINT_URL_SNS', description: 'endpoint override for SNS', format: httpUrl },
  { name: 'AWS_ENDPOINT_URL_SES', description: 'endpoint override for SES', format: httpUrl },
  { name: 'SES_FROM', description: 'ses sender address', format: senderAddress, feeds: 'messaging.aws.sesFrom' },

  {
    name: 'SENDGRID_API_KEY',
    section: 'SendGrid provider',
    description: 'sendgrid API key (SG.…)',
    format: matching(/^SG\.[\w-]{10,}\.[\w-]{10,}$/, 'must be a SendGrid API key (SG.xxx.yyy)'),
    secret: true,
    feeds: 'messaging.sendgrid.apiKey',
  },
  { name: 'SENDGRID_FROM', description: 'sendgrid sender address', format: senderAddress, feeds: 'messaging.sendgrid.from' },
  {
    name: 'SENDGRID_API_BASE_URL',
    description: 'replaces https://api.sendgrid.com (proxies, tests)',
    format: readAs(httpUrl, withoutTrailingSlashes),
    default: 'https://api.sendgrid.com',
    feeds: 'messaging.sendgrid.apiBaseUrl',
  },

  {
    name: 'PUBLIC_BASE_URL',
    section: 'Delivery receipts',
    description:
      'where providers reach this service (https://otp.example.com): Twilio messages are sent with a status callback to ' +
      '<PUBLIC_BASE_URL>/v1/webhooks/twilio/status; unset = no Twilio status callbacks are asked for',
    format: readAs(httpUrl, withoutTrailingSlashes),
    example: 'https://otp.example.com',
    feeds: 'messaging.receipts.publicBaseUrl',
  },
  {
    name: 'SENDGRID_WEBHOOK_PUBLIC_KEY',
    description:
      "the verification key of SendGrid's signed Event Webhook (base64 or PEM); POST /v1/webhooks/sendgrid/events accepts only " +
      'events signed with it (unset = every SendGrid event is refused)',
    format: matching(
      /^(-----BEGIN PUBLIC KEY-----[\sA-Za-z0-9+/=]+-----END PUBLIC KEY-----|[A-Za-z0-9+/]{40,}={0,2})$/s,
      'must be a public key, base64 or PEM',
    ),
    feeds: 'messaging.receipts.sendgridPublicKey',
  },
  {
    name: 'SNS_CERTIFICATE_HOSTS',
    description:
      'origins SNS signing certificates and subscription confirmations may come from, * matching one DNS label; ' +
      'anything else in an SNS message is never fetched',
    format: readAs(notEmpty('must list at least one origin'), listEntries),
    default: 'https://sns.*.amazonaws.com',
    feeds: 'messaging.receipts.snsCertificateHosts',
  },
  {
    name: 'SNS_TOPIC_ARNS',
    description:
      'comma-separated ARNs of the SNS topics SES events may come from; unset = any topic (a topic someone else subscribes ' +
      'to this service could post its own, validly signed, messages)',
    format: readAs(
      matching(
        /^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]{1,256}(\s*,\s*arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]{1,256})*$/,
        'must be a comma-separated list of SNS topic ARNs',
      ),
      listEntries,
    ),
    example: 'arn:aws:sns:eu-west-1:123456789012:ses-events',
    feeds: 'messaging.receipts.snsTopicArns',
  },
  {
    name: 'SUSPECT_GRACE_SECONDS',
    description: "a provider's codes count toward its suspicion once sent this long ago (time for a person to type them)",
    format: wholeNumber(0, 3600),
    default: '120',
    feeds: 'messaging.suspect.graceSeconds',
  },
  {
    name: 'SUSPECT_MIN_SENDS',
    description: 'codes of the last hour (past the grace) a provider needs before it can be suspect',
    format: wholeNumber(1, 100000),
    default: '20',
    feeds: 'messaging.suspect.minSends',
  },
  {
    name: 'SUSPECT_MIN_APPROVAL',
    description: 'a provider whose share of approved codes of the last hour is below this is suspect (codes accepted that nobody receives)',
    format: fraction,
    default: '0.1',
    feeds: 'messaging.suspect.minApproval',
  },

  {
    name: 'WEBHOOK_URLS',
    section: 'Outgoing events',
    description: 'comma-separated URLs that receive signed events (Standard Webhooks); unset = no events are sent',
    format: httpUrlList,
    example: 'https://app.example.com/hooks/otp',
    feeds: 'messaging.events.urls',
  },
  {
    name: 'WEBHOOK_SECRET',
    description: 'whsec_ followed by base64: the key events are signed with (required with WEBHOOK_URLS)',
    format: matching(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by at least 24 bytes of base64'),
    secret: true,
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  },
  {
    name: 'WEBHOOK_BACKOFF_MS',
    description: 'first retry of an event a receiver did not take, in ms; doubles each attempt, for up to 24 h',
    format: wholeNumber(10, 3600000),
    default: '5000',
    feeds: 'messaging.events.backoffMs',
  },
] as const satisfies readonly Variable[];

export const VARIABLES: readonly Variable[] = TABLE;

function withoutTrailingSlashes(value: string): string {
  return value.replace(/\/+$/, '');
}

type Entry = (typeof TABLE)[number];
export type VariableName = Entry['name'];

/** A variable's value as the configuration holds it: never undefined when there is a default or an unset value. */
type ValueOf<E> = E extends { format: Format<infer T> }
  ? E extends { default: unknown }
    ? T
    : E['format'] extends { unset: T }
      ? T
      : T | undefined
  : never;

/** Every variable's value as the configuration holds it, by name. */
export type VariableValues = { [E in Entry as E['name']]: ValueOf<E> };

/** The field a variable feeds directly under `path` (`otp`, `messaging.smtp`), without going deeper. */
type FieldUnder<E, Path extends string> = E extends { feeds: `${Path}.${infer Field}` }
  ? Field extends `${string}.${string}`
    ? never
    : Field
  : never;

/** The fields of one part of the configuration that variables feed directly, typed by their formats. */
export type FedFields<Path extends string> = { [E in Entry as FieldUnder<E, Path>]: ValueOf<E> };

export const SECRET_VARIABLES: readonly string[] = VARIABLES.filter((v) => v.secret).map((v) => v.name);
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set(VARIABLES.map((v) => v.name));

export function defaultOf(variable: Variable, mode: Mode): string | undefined {
  return typeof variable.default === 'object' ? variable.default[mode] : variable.default;
}

/** `{ PORT: '3000', HOST: '127.0.0.1', … }`: what applies in this mode when a variable is unset. */
export function defaultsFor(mode: Mode): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const variable of VARIABLES) {
    const value = defaultOf(variable, mode);
    if (value !== undefined) defaults[variable.name] = value;
  }
  return defaults;
}

/** The values fed directly into one part of the configuration (see `feeds`). */
export function fedFields<Path extends string>(values: VariableValues, path: Path): FedFields<Path> {
  const fields: Record<string, unknown> = {};
  for (const variable of VARIABLES) {
    const field = variable.feeds?.startsWith(`${path}.`) ? variable.feeds.slice(path.length + 1) : undefined;
    if (field !== undefined && !field.includes('.')) fields[field] = values[variable.name as VariableName];
  }
  return fields as FedFields<Path>;
}
