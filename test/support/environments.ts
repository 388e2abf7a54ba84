const SID = `AC${'a'.repeat(32)}`;
const TOKEN = 'b'.repeat(32);

/**
 * Limits out of the way, for suites about something else: their requests all come from one address
 * and reuse destinations, which the per-IP and per-destination limits would otherwise stop.
 */
export const LOOSE_LIMITS: Record<string, string> = {
  RATE_LIMIT_IP_PER_MINUTE: '100000',
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_MAX_SENDS_PER_HOUR: '1000',
  OTP_MAX_SENDS_PER_DAY: '1000',
};

/** Everything production needs for the default chains (smtp for email, twilio for SMS). */
export const COMPLETE_PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  REDIS_URL: 'redis://:hunter2hunter2@redis.internal:6379/0',
  DATABASE_URL: 'postgres://otp:pg-password-123@db.internal:5432/otp',
  JWT_SECRET: 'j'.repeat(40),
  OTP_SECRET: 'o'.repeat(40),
  API_KEYS: 'key-aaaaaaaaaaaaaaaa,key-bbbbbbbbbbbbbbbb',
  SMTP_HOST: 'smtp.example.com',
  SMTP_FROM: 'Example <no-reply@example.com>',
  SMTP_USER: 'mailer',
  SMTP_PASSWORD: 'smtp-password-1234',
  TWILIO_ACCOUNT_SID: SID,
  TWILIO_AUTH_TOKEN: TOKEN,
  TWILIO_FROM: '+14155550100',
};

/** Points the production providers at servers the test started, so probes (and readiness) can pass. */
export function reachableProviders(smtp: { port: number }, twilio: { url: string; accountSid: string; authToken: string }): Record<string, string> {
  return {
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_USER: '',
    SMTP_PASSWORD: '',
    TWILIO_API_BASE_URL: twilio.url,
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
  };
}

/**
 * A production process on servers the caller started: the complete environment's secrets and
 * providers pointed at the local SMTP server and Twilio fake, on an ephemeral loopback port.
 */
export function localProduction(servers: {
  redisUrl: string;
  databaseUrl: string;
  smtp: { port: number };
  twilio: { url: string; accountSid: string; authToken: string };
}): Record<string, string> {
  return {
    ...COMPLETE_PRODUCTION,
    ...reachableProviders(servers.smtp, servers.twilio),
    REDIS_URL: servers.redisUrl,
    DATABASE_URL: servers.databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
  };
}
