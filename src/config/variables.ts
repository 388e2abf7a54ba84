/**
 * Every environment variable the service reads, in the order the start-up report and
 * `.env.example` present them. `secret` values are never printed: the report masks them
 * and the log redaction list is built from them.
 */
export interface VariableDescriptor {
  name: string;
  description: string;
  secret?: boolean;
  /** Connection URLs whose password part is secret but whose host is worth showing. */
  url?: boolean;
}

export const VARIABLES: readonly VariableDescriptor[] = [
  { name: 'NODE_ENV', description: 'development (default), test or production' },
  { name: 'PORT', description: 'HTTP port' },
  { name: 'HOST', description: 'bind address: 127.0.0.1 in development and test, 0.0.0.0 in production' },
  { name: 'TRUST_PROXY', description: 'hop count or CIDR list of trusted proxies; unset = trust none' },
  { name: 'SHUTDOWN_DRAIN_MS', description: 'after SIGTERM, how long readiness answers 503 before the server stops accepting' },
  { name: 'READINESS_REQUIRES_CHANNELS', description: 'true: /health/ready also fails when an enabled channel has no usable provider; false: channels are only reported' },
  { name: 'UI_ENABLED', description: 'true: serve the reference sign-in pages under /ui/; default true in development and test, false in production' },
  { name: 'GIT_COMMIT', description: 'commit the running build was made from, shown by GET /health' },
  { name: 'REDIS_URL', description: 'redis:// or rediss:// URL; unset = in-memory stores (development and test only)', url: true },
  {
    name: 'REDIS_CLUSTER_NODES',
    description: 'Redis Cluster instead of REDIS_URL: comma-separated host:port seed nodes (no password or TLS); set one of the two',
  },
  {
    name: 'REDIS_SENTINELS',
    description: 'Redis Sentinel instead of REDIS_URL: comma-separated host:port Sentinels (no password or TLS) that name the master',
  },
  { name: 'REDIS_SENTINEL_NAME', description: 'with REDIS_SENTINELS: the master group the Sentinels monitor (mymaster when unset)' },
  { name: 'DATABASE_URL', description: 'postgres:// URL; unset = embedded PGlite (development and test only)', url: true },
  { name: 'JWT_SECRET', description: 'at least 32 characters; signs access tokens', secret: true },
  { name: 'REFRESH_TOKEN_TTL_DAYS', description: 'sliding lifetime of a refresh token in days: a session unused this long ends' },
  { name: 'SESSION_MAX_DAYS', description: 'absolute lifetime of a session in days, however often it refreshes' },
  { name: 'OTP_SECRET', description: 'at least 32 characters; keys code hashing and queued-message encryption', secret: true },
  {
    name: 'API_KEYS',
    description:
      'comma-separated name:key entries accepted in X-Api-Key for /v1/verifications (name a-z0-9- up to 32, key 16-256 characters; ' +
      'an entry without name: is key1, key2... by position); logs and metrics show the name, never the key',
    secret: true,
  },
  { name: 'ADMIN_API_KEYS', description: 'same format: the only keys accepted for /v1/admin; unset = admin routes answer 401', secret: true },
  { name: 'API_KEY_RATE_LIMIT_PER_MINUTE', description: 'requests per API key per minute on /v1/verifications routes' },
  { name: 'OTP_LENGTH', description: 'code length, 6-10 digits' },
  { name: 'OTP_TTL_SECONDS', description: 'code lifetime in seconds (60-600 when SMS or WhatsApp is enabled)' },
  { name: 'OTP_MAX_ATTEMPTS', description: 'wrong codes allowed per verification before it locks' },
  { name: 'OTP_MAX_SENDS', description: 'sends (first + resends) per verification' },
  { name: 'OTP_RESEND_COOLDOWN_SECONDS', description: 'minimum gap between two sends to one destination' },
  { name: 'OTP_MAX_SENDS_PER_HOUR', description: 'sends per destination per hour' },
  { name: 'OTP_MAX_SENDS_PER_DAY', description: 'sends per destination per day' },
  {
    name: 'RATE_LIMIT_IP_PER_MINUTE',
    description: 'requests per end-user IP per minute on each public /v1/auth route, and on /v1/verifications for the clientIp a backend passes',
  },
  { name: 'LOGIN_MAX_FAILURES', description: 'wrong passwords per login identifier per 15 minutes, then 429 LOGIN_RATE_LIMITED' },
  { name: 'PASSWORD_HASH_CONCURRENCY', description: 'password hashes computed at once; a request waiting over 2 s for one gets 503 SERVICE_BUSY' },
  { name: 'OTP_CHANNELS', description: 'enabled channels, of email, sms, whatsapp' },
  { name: 'EMAIL_PROVIDERS', description: 'ordered email failover chain, of smtp, ses, sendgrid, console' },
  { name: 'SMS_PROVIDERS', description: 'ordered SMS failover chain, of twilio-verify, twilio, sns, console' },
  { name: 'WHATSAPP_PROVIDERS', description: 'ordered WhatsApp failover chain, of twilio-whatsapp, console' },
  { name: 'SMS_ALLOWED_COUNTRIES', description: 'ISO 3166 alpha-2 list of countries SMS/WhatsApp may go to; unset = all' },
  {
    name: 'SMS_ALLOWED_NUMBER_TYPES',
    description:
      'phone number types (as libphonenumber names them) that may receive codes, of mobile, fixed_line, fixed_line_or_mobile, ' +
      'voip, toll_free, premium_rate, shared_cost, personal_number, pager, uan, voicemail',
  },
  { name: 'OTP_WEBOTP_DOMAIN', description: 'domain for the WebOTP / SMS Retriever last line of SMS texts (@example.com #123456)' },
  { name: 'CIRCUIT_FAILURE_THRESHOLD', description: "consecutive failures that open a provider's circuit" },
  { name: 'CIRCUIT_OPEN_SECONDS', description: 'how long a circuit stays open before one trial send' },
  { name: 'DELIVERY_ATTEMPTS', description: 'queue attempts of a whole chain before a delivery is failed' },
  { name: 'DELIVERY_BACKOFF_MS', description: "first retry delay; doubles each attempt, never past the code's expiry" },
  { name: 'DELIVERY_WORKER', description: 'true: this replica works on the delivery queue; false: it only queues (API replicas beside worker replicas)' },
  { name: 'OTP_TEST_DESTINATIONS', description: 'dest:code,... fixed codes, never delivered; send limits apply, and OTP_MAX_ATTEMPTS wrong guesses a day per destination', secret: true },
  { name: 'OTP_FIXED_CODE', description: 'development/test only: every code is this', secret: true },
  { name: 'SMTP_HOST', description: 'smtp provider: server host' },
  { name: 'SMTP_PORT', description: 'smtp provider: port (587)' },
  { name: 'SMTP_SECURE', description: 'smtp provider: true = implicit TLS (465); false = STARTTLS' },
  { name: 'SMTP_REQUIRE_TLS', description: 'smtp provider: true = refuse a relay that cannot STARTTLS; false = plain text allowed (a relay inside the network)' },
  { name: 'SMTP_USER', description: 'smtp provider: user (with SMTP_PASSWORD, or neither for a relay without auth)' },
  { name: 'SMTP_PASSWORD', description: 'smtp provider: password', secret: true },
  { name: 'SMTP_FROM', description: 'smtp provider: sender address' },
  { name: 'TWILIO_ACCOUNT_SID', description: 'all Twilio providers: AC followed by 32 hex digits' },
  { name: 'TWILIO_AUTH_TOKEN', description: 'all Twilio providers: 32 hex digits', secret: true },
  { name: 'TWILIO_FROM', description: 'twilio SMS sender: E.164 number or alphanumeric sender id' },
  { name: 'TWILIO_MESSAGING_SERVICE_SID', description: 'twilio SMS sender: MG followed by 32 hex digits' },
  { name: 'TWILIO_VERIFY_SERVICE_SID', description: 'twilio-verify: VA followed by 32 hex digits' },
  { name: 'TWILIO_WHATSAPP_FROM', description: 'twilio-whatsapp sender: E.164 number' },
  { name: 'TWILIO_API_BASE_URL', description: "replaces scheme and host of every Twilio API call (proxies, tests)" },
  { name: 'AWS_REGION', description: 'sns and ses: region' },
  { name: 'AWS_ACCESS_KEY_ID', description: 'sns and ses: access key id (unset = SDK default credential chain)' },
  { name: 'AWS_SECRET_ACCESS_KEY', description: 'sns and ses: secret access key', secret: true },
  { name: 'AWS_ENDPOINT_URL', description: 'endpoint override for every AWS service' },
  { name: 'AWS_ENDPOINT_URL_SNS', description: 'endpoint override for SNS' },
  { name: 'AWS_ENDPOINT_URL_SES', description: 'endpoint override for SES' },
  { name: 'SES_FROM', description: 'ses sender address' },
  { name: 'SENDGRID_API_KEY', description: 'sendgrid API key (SG.…)', secret: true },
  { name: 'SENDGRID_FROM', description: 'sendgrid sender address' },
  { name: 'SENDGRID_API_BASE_URL', description: 'replaces https://api.sendgrid.com (proxies, tests)' },
];

export const SECRET_VARIABLES: readonly string[] = VARIABLES.filter((v) => v.secret).map((v) => v.name);
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set(VARIABLES.map((v) => v.name));
