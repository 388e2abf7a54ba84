import { COMPLETE_PRODUCTION, TEST_JWT_PRIVATE_KEY } from '../../test/support/environments.js';
import { loadConfiguration } from './load-configuration.js';
import { buildStartupReport, maskSecret, maskUrl } from './startup-report.js';
import { SECRET_VARIABLES } from './variables.js';

/** A distinct, recognisable value for every secret the service knows of. */
const EVERY_SECRET: Record<string, string> = {
  JWT_SECRET: 'jwt-secret-value-0123456789abcdefghij',
  JWT_PRIVATE_KEY: TEST_JWT_PRIVATE_KEY,
  OTP_SECRET: 'otp-secret-value-0123456789abcdefghij',
  API_KEYS: 'api-key-value-one-0001,api-key-value-two-0002',
  ADMIN_API_KEYS: 'admin-key-value-one-0003',
  OTP_TEST_DESTINATIONS: 'review@example.com:246810',
  OTP_FIXED_CODE: '135790',
  SMTP_PASSWORD: 'smtp-password-value-77',
  TWILIO_AUTH_TOKEN: 'abcdef0123456789abcdef0123456789',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-access-key-value-99',
  SENDGRID_API_KEY: 'SG.sendgrid-key-part1.sendgrid-key-part2',
  WEBHOOK_SECRET: 'whsec_c2lnbmluZy1zZWNyZXQtZm9yLWV2ZW50cy0xMjM0',
};

describe('masking', () => {
  it('shows only the length of a secret', () => {
    expect(maskSecret('0123456789abcdef')).toBe('****(16)');
  });

  it('keeps the host of a connection URL and masks its credentials and query', () => {
    expect(maskUrl('redis://user:pa55word@cache.internal:6380/2')).toBe('redis://****(4):****(8)@cache.internal:6380/2');
    expect(maskUrl('postgres://otp:pg%40ss@db:5432/otp?sslmode=require&password=x')).toBe('postgres://****(3):****(5)@db:5432/otp?****');
  });

  it('masks anything that does not parse as a URL', () => {
    expect(maskUrl('not a url with secret')).toBe('****(21)');
  });
});

describe('the start-up report', () => {
  it('knows every secret variable this test sets', () => {
    expect(Object.keys(EVERY_SECRET).sort()).toEqual([...SECRET_VARIABLES].sort());
  });

  it('contains no secret value, in either mode', () => {
    for (const mode of ['development', 'production']) {
      const env = {
        ...COMPLETE_PRODUCTION,
        ...EVERY_SECRET,
        NODE_ENV: mode,
        OTP_FIXED_CODE: mode === 'production' ? undefined : EVERY_SECRET.OTP_FIXED_CODE,
      };
      const loaded = loadConfiguration(env);
      const text = [...buildStartupReport(loaded), ...loaded.problems.flatMap((p) => [p.message, p.warning]), ...loaded.notices].join('\n');
      for (const [name, value] of Object.entries(EVERY_SECRET)) {
        for (const part of value.split(/[,:]/)) expect({ name, leaked: text.includes(part) }).toEqual({ name, leaked: false });
      }
      expect(text).not.toContain('hunter2hunter2');
      expect(text).not.toContain('pg-password-123');
    }
  });

  it('shows masked secrets with their lengths', () => {
    const report = buildStartupReport(loadConfiguration({ ...COMPLETE_PRODUCTION, ...EVERY_SECRET, OTP_FIXED_CODE: undefined })).join('\n');
    expect(report).toContain(`SMTP_PASSWORD=****(${EVERY_SECRET.SMTP_PASSWORD!.length})`);
    expect(report).toContain('TWILIO_AUTH_TOKEN=****(32)');
    expect(report).toContain(`JWT_SECRET=****(${EVERY_SECRET.JWT_SECRET!.length})`);
    expect(report).toContain('REDIS_URL=redis://:****(14)@redis.internal:6379/0');
  });

  it('shows each API key by name and scope, the key masked, and the limits per IP and per key', () => {
    const env = { ...COMPLETE_PRODUCTION, API_KEYS: `web:${'w'.repeat(20)},${'x'.repeat(24)}`, ADMIN_API_KEYS: undefined };
    const report = buildStartupReport(loadConfiguration(env)).join('\n');
    expect(report).toContain('API_KEYS=web:****(20),key2:****(24) ADMIN_API_KEYS=unset (/v1/admin answers 401)');
    expect(report).toContain('per IP 30/minute, per API key 6000/minute');
    expect(report).not.toContain('w'.repeat(20));
  });

  it('prints the generated development key, to be copied into X-Api-Key', () => {
    const loaded = loadConfiguration({});
    loaded.configuration.auth.apiKeys.push({
      name: 'development',
      key: 'generated-development-key-0123',
      scope: 'application',
      generated: true,
    });
    const report = buildStartupReport(loaded).join('\n');
    expect(report).toContain(
      'development API key (API_KEYS is not set; kept in ./.data/api-key, send it as X-Api-Key): generated-development-key-0123',
    );
    expect(report).toContain('API_KEYS=unset');
  });

  it('names the mode, the stores and each channel with its chain and provider states', () => {
    const report = buildStartupReport(loadConfiguration({})).join('\n');
    expect(report).toMatch(/in development mode/);
    expect(report).toMatch(/store: OTP state and rate limits in memory/);
    expect(report).toMatch(/database: embedded PostgreSQL \(PGlite\) in \.\/\.data\/pglite/);
    expect(report).toContain('channel email: 1. smtp (missing SMTP_HOST, SMTP_FROM) -> 2. console (configured: prints codes to the log)');
    expect(report).toContain('channel whatsapp: disabled');
  });

  it('says when sessions end', () => {
    const report = buildStartupReport(loadConfiguration({ SESSION_MAX_DAYS: '60' })).join('\n');
    expect(report).toContain(
      'sessions: end after 30 days unused (REFRESH_TOKEN_TTL_DAYS) or 60 days after sign-in (SESSION_MAX_DAYS), whichever comes first',
    );
  });

  it('names a Redis Cluster by its seeds', () => {
    const env = { ...COMPLETE_PRODUCTION, REDIS_URL: undefined, REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1:6379,[fd00::2]:7000' };
    const report = buildStartupReport(loadConfiguration(env)).join('\n');
    expect(report).toContain(
      'store: OTP state, rate limits and delivery queue in Redis Cluster (3 seeds: redis-0:6379, redis-1:6379, [fd00::2]:7000)',
    );
    expect(report).toContain('REDIS_CLUSTER_NODES=redis-0:6379,redis-1:6379,[fd00::2]:7000');
  });

  it('names a Sentinel-watched master by its group and Sentinels', () => {
    const env = { ...COMPLETE_PRODUCTION, REDIS_URL: undefined, REDIS_SENTINELS: 'sentinel-0:26379,sentinel-1:26379' };
    const report = buildStartupReport(loadConfiguration(env)).join('\n');
    expect(report).toContain(
      'store: OTP state, rate limits and delivery queue in the Redis master "mymaster" found through Sentinel ' +
        '(2 Sentinels: sentinel-0:26379, sentinel-1:26379), delivered by this process',
    );
  });

  it('says when this process leaves the queue to worker replicas', () => {
    const report = buildStartupReport(loadConfiguration({ ...COMPLETE_PRODUCTION, DELIVERY_WORKER: 'false' })).join('\n');
    expect(report).toContain(
      'delivery queue in Redis at redis://:****(14)@redis.internal:6379/0, NOT delivered by this process (DELIVERY_WORKER=false)',
    );
    expect(report).toContain('DELIVERY_WORKER=false');
  });

  it('names the phone number types and countries that may receive codes', () => {
    expect(buildStartupReport(loadConfiguration({}))).toContain(
      'phone numbers: codes go to mobile, fixed_line_or_mobile, voip numbers in every country ' +
        '(SMS_ALLOWED_NUMBER_TYPES, SMS_ALLOWED_COUNTRIES)',
    );
    const narrowed = loadConfiguration({ SMS_ALLOWED_NUMBER_TYPES: 'mobile', SMS_ALLOWED_COUNTRIES: 'GB,US' });
    expect(buildStartupReport(narrowed)).toContain(
      'phone numbers: codes go to mobile numbers in GB, US (SMS_ALLOWED_NUMBER_TYPES, SMS_ALLOWED_COUNTRIES)',
    );
  });

  it('names Redis and PostgreSQL hosts in production', () => {
    const report = buildStartupReport(loadConfiguration(COMPLETE_PRODUCTION)).join('\n');
    expect(report).toContain(
      'store: OTP state, rate limits and delivery queue in Redis at redis://:****(14)@redis.internal:6379/0, delivered by this process',
    );
    expect(report).toContain('database: PostgreSQL at postgres://****(3):****(15)@db.internal:5432/otp');
    expect(report).toContain('channel sms: 1. twilio (configured)');
  });

  it("says what each provider's start-up probe found, not only that it is configured", () => {
    const probes = { smtp: 'probe failed: SMTP: connect ECONNREFUSED 10.0.0.25:587', twilio: null };
    const report = buildStartupReport(loadConfiguration(COMPLETE_PRODUCTION), probes).join('\n');
    expect(report).toContain('channel email: 1. smtp (configured, probe failed: SMTP: connect ECONNREFUSED 10.0.0.25:587)');
    expect(report).toContain('channel sms: 1. twilio (configured, probe passed)');
  });
});

describe("the start-up report's fraud guard line", () => {
  const lineOf = (env: Record<string, string>) =>
    buildStartupReport(loadConfiguration({ NODE_ENV: 'test', ...env })).find((line) => line.startsWith('fraud guard:'));

  it('shows the caps and the suspension rule in effect', () => {
    expect(lineOf({ SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:200,GB:5000', OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR: 'sms:3000' })).toBe(
      'fraud guard: per number prefix 10/hour; per country others 200/hour, GB 5000/hour; per channel sms 3000/hour; ' +
        'a country is suspended for 60 minutes when, of at least 30 codes sent there in the last hour 120 s ago or more, ' +
        'under 20% were approved ' +
        '(SMS_MAX_SENDS_PER_PREFIX_PER_HOUR, SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR, OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR, FRAUD_*)',
    );
  });

  it('says when the guard is off', () => {
    expect(lineOf({ SMS_MAX_SENDS_PER_PREFIX_PER_HOUR: '0', SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:0', FRAUD_MIN_CONVERSION: '0' })).toBe(
      'fraud guard: off (no cap, FRAUD_MIN_CONVERSION=0)',
    );
  });
});
