import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPLETE_PRODUCTION } from '../../test/support/environments.js';
import { loadConfiguration } from './load-configuration.js';

const variablesOf = (env: Record<string, string | undefined>) => loadConfiguration(env).problems.map((p) => p.variable);
const messagesOf = (env: Record<string, string | undefined>) => loadConfiguration(env).problems.map((p) => p.message);

describe('loadConfiguration in production', () => {
  it('accepts a complete environment with no problem', () => {
    expect(loadConfiguration(COMPLETE_PRODUCTION).problems).toEqual([]);
  });

  it('names every missing requirement of an empty environment, one problem each', () => {
    const variables = variablesOf({ NODE_ENV: 'production' });
    for (const name of [
      'REDIS_URL',
      'DATABASE_URL',
      'JWT_SECRET',
      'OTP_SECRET',
      'API_KEYS',
      'SMTP_HOST',
      'SMTP_FROM',
      'TWILIO_ACCOUNT_SID',
      'TWILIO_AUTH_TOKEN',
      'TWILIO_FROM',
    ]) {
      expect(variables).toContain(name);
    }
  });

  it('explains a provider requirement by the chain that names the provider', () => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, SMTP_HOST: undefined })).toEqual([
      'SMTP_HOST is required because EMAIL_PROVIDERS includes "smtp"',
    ]);
  });

  it('accepts a messaging service instead of a sender number for twilio', () => {
    const env = { ...COMPLETE_PRODUCTION, TWILIO_FROM: undefined, TWILIO_MESSAGING_SERVICE_SID: `MG${'c'.repeat(32)}` };
    expect(loadConfiguration(env).problems).toEqual([]);
  });

  it('asks for a twilio sender when neither a number nor a messaging service is given', () => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, TWILIO_FROM: undefined })).toEqual([
      'TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required because SMS_PROVIDERS includes "twilio"',
    ]);
  });

  it('refuses the console provider', () => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, EMAIL_PROVIDERS: 'smtp,console' })).toEqual([
      'EMAIL_PROVIDERS must not include "console" in production: it prints codes to the log instead of delivering them',
    ]);
  });

  it('refuses OTP_FIXED_CODE', () => {
    expect(variablesOf({ ...COMPLETE_PRODUCTION, OTP_FIXED_CODE: '123456' })).toEqual(['OTP_FIXED_CODE']);
  });

  it('ignores the credentials of a channel that is not enabled', () => {
    expect(loadConfiguration({ ...COMPLETE_PRODUCTION, WHATSAPP_PROVIDERS: 'twilio-whatsapp' }).problems).toEqual([]);
  });

  it('requires the WhatsApp sender once WhatsApp is enabled', () => {
    expect(variablesOf({ ...COMPLETE_PRODUCTION, OTP_CHANNELS: 'email,sms,whatsapp' })).toEqual(['TWILIO_WHATSAPP_FROM']);
  });

  it.each([
    ['ses', { AWS_REGION: 'eu-west-1', SES_FROM: 'a@example.com' }, ['AWS_REGION', 'SES_FROM']],
    [
      'sendgrid',
      { SENDGRID_API_KEY: 'SG.abcdefghijklmnop.qrstuvwxyz0123456789', SENDGRID_FROM: 'a@example.com' },
      ['SENDGRID_API_KEY', 'SENDGRID_FROM'],
    ],
  ])('requires the %s credentials when the email chain names it', (provider, credentials, required) => {
    const base = { ...COMPLETE_PRODUCTION, EMAIL_PROVIDERS: `${provider},smtp` };
    expect(variablesOf(base)).toEqual(required);
    expect(variablesOf({ ...base, ...credentials })).toEqual([]);
  });

  it.each([
    ['sns', { AWS_REGION: 'us-east-1' }, ['AWS_REGION']],
    ['twilio-verify', { TWILIO_VERIFY_SERVICE_SID: `VA${'d'.repeat(32)}` }, ['TWILIO_VERIFY_SERVICE_SID']],
  ])('requires the %s credentials when the SMS chain names it', (provider, credentials, required) => {
    const base = { ...COMPLETE_PRODUCTION, SMS_PROVIDERS: `${provider},twilio` };
    expect(variablesOf(base)).toEqual(required);
    expect(variablesOf({ ...base, ...credentials })).toEqual([]);
  });
});

describe('variable formats', () => {
  it.each([
    ['TWILIO_ACCOUNT_SID', 'AC123', 'TWILIO_ACCOUNT_SID must be AC followed by 32 lower-case hex digits'],
    ['TWILIO_ACCOUNT_SID', `SK${'a'.repeat(32)}`, 'TWILIO_ACCOUNT_SID must be AC followed by 32 lower-case hex digits'],
    ['TWILIO_AUTH_TOKEN', 'z'.repeat(32), 'TWILIO_AUTH_TOKEN must be 32 lower-case hex digits'],
    ['TWILIO_MESSAGING_SERVICE_SID', `MX${'a'.repeat(32)}`, 'TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 lower-case hex digits'],
    ['TWILIO_VERIFY_SERVICE_SID', 'VA12', 'TWILIO_VERIFY_SERVICE_SID must be VA followed by 32 lower-case hex digits'],
    [
      'TWILIO_FROM',
      '07911123456',
      'TWILIO_FROM must be an E.164 number (+14155550100) or an alphanumeric sender id of up to 11 characters',
    ],
    ['TWILIO_WHATSAPP_FROM', '+0123', 'TWILIO_WHATSAPP_FROM must be an E.164 number (+14155550100)'],
    ['JWT_SECRET', 'short', 'JWT_SECRET must be at least 32 characters long'],
    ['OTP_SECRET', 'x'.repeat(31), 'OTP_SECRET must be at least 32 characters long'],
    ['REDIS_URL', 'http://localhost:6379', 'REDIS_URL must be a redis:// or rediss:// URL'],
    ['DATABASE_URL', 'mysql://localhost/db', 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
    ['OTP_LENGTH', '5', 'OTP_LENGTH must be a whole number from 6 to 10'],
    ['OTP_LENGTH', '11', 'OTP_LENGTH must be a whole number from 6 to 10'],
    ['OTP_LENGTH', 'six', 'OTP_LENGTH must be a whole number from 6 to 10'],
    ['OTP_TTL_SECONDS', '30', 'OTP_TTL_SECONDS must be a whole number from 60 to 86400'],
    ['PORT', '70000', 'PORT must be a whole number from 0 to 65535'],
    ['SMTP_SECURE', 'maybe', 'SMTP_SECURE must be true or false'],
    ['DELIVERY_WORKER', 'api', 'DELIVERY_WORKER must be true or false'],
    ['SMTP_REQUIRE_TLS', 'sometimes', 'SMTP_REQUIRE_TLS must be true or false'],
    ['READINESS_REQUIRES_CHANNELS', 'strict', 'READINESS_REQUIRES_CHANNELS must be true or false'],
    ['SMTP_FROM', 'not-an-address', 'SMTP_FROM must be an email address, optionally as "Name <address>"'],
    ['AWS_REGION', 'Europe', 'AWS_REGION must be an AWS region such as eu-west-1'],
    ['SENDGRID_API_KEY', 'abc', 'SENDGRID_API_KEY must be a SendGrid API key (SG.xxx.yyy)'],
    ['TWILIO_API_BASE_URL', 'ftp://x', 'TWILIO_API_BASE_URL must be an http:// or https:// URL'],
    ['TRUST_PROXY', 'everyone', 'TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of IP addresses or CIDR ranges'],
    ['TRUST_PROXY', '10.0.0.0/33', 'TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of IP addresses or CIDR ranges'],
    [
      'API_KEYS',
      'short',
      'API_KEYS must be comma-separated name:key entries ' +
        '(name: 1-32 of a-z, 0-9 and -, optional; key: 16 to 256 printable characters without spaces); not one: entry 1',
    ],
    [
      'ADMIN_API_KEYS',
      'ops:short',
      'ADMIN_API_KEYS must be comma-separated name:key entries ' +
        '(name: 1-32 of a-z, 0-9 and -, optional; key: 16 to 256 printable characters without spaces); not one: entry 1',
    ],
    ['API_KEY_RATE_LIMIT_PER_MINUTE', '0', 'API_KEY_RATE_LIMIT_PER_MINUTE must be a whole number from 1 to 1000000'],
    ['OTP_FIXED_CODE', '12ab56', 'OTP_FIXED_CODE must be 6 to 10 digits'],
    ['NODE_ENV', 'staging', 'NODE_ENV must be one of development, test, production'],
  ])('refuses %s=%s', (name, value, message) => {
    const base = name === 'NODE_ENV' ? {} : COMPLETE_PRODUCTION;
    expect(messagesOf({ ...base, [name]: value })).toContain(message);
  });

  it('never puts a value in a message, since values can be secrets', () => {
    const secretish = 'S3CRET-VALUE-never-print';
    const messages = messagesOf({
      ...COMPLETE_PRODUCTION,
      JWT_SECRET: secretish,
      TWILIO_AUTH_TOKEN: secretish,
      API_KEYS: `${secretish} x`,
    });
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).not.toContain(secretish);
  });

  it('accepts TRUST_PROXY as a hop count or an address list', () => {
    expect(loadConfiguration({ TRUST_PROXY: '2' }).configuration.app.trustProxy).toBe(2);
    expect(loadConfiguration({ TRUST_PROXY: '10.0.0.0/8, ::1' }).configuration.app.trustProxy).toEqual(['10.0.0.0/8', '::1']);
    expect(loadConfiguration({}).configuration.app.trustProxy).toBe(false);
  });

  it('wants SMTP user and password both or neither', () => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, SMTP_PASSWORD: undefined })).toEqual([
      'SMTP_PASSWORD is required because SMTP_USER is set (SMTP authentication: both or neither)',
    ]);
    expect(messagesOf({ ...COMPLETE_PRODUCTION, SMTP_USER: undefined })).toEqual([
      'SMTP_USER is required because SMTP_PASSWORD is set (SMTP authentication: both or neither)',
    ]);
    expect(messagesOf({ ...COMPLETE_PRODUCTION, SMTP_USER: undefined, SMTP_PASSWORD: undefined })).toEqual([]);
  });

  it('wants AWS key id and secret both or neither', () => {
    expect(variablesOf({ ...COMPLETE_PRODUCTION, AWS_ACCESS_KEY_ID: 'AKIAABCDEFGHIJKLMNOP' })).toEqual(['AWS_SECRET_ACCESS_KEY']);
  });

  it('keeps SMS and WhatsApp codes short-lived', () => {
    expect(variablesOf({ ...COMPLETE_PRODUCTION, OTP_TTL_SECONDS: '900' })).toEqual(['OTP_TTL_SECONDS']);
    expect(variablesOf({ ...COMPLETE_PRODUCTION, OTP_CHANNELS: 'email', OTP_TTL_SECONDS: '900' })).toEqual([]);
  });

  it('refuses a daily send limit below the hourly one', () => {
    expect(variablesOf({ ...COMPLETE_PRODUCTION, OTP_MAX_SENDS_PER_HOUR: '20', OTP_MAX_SENDS_PER_DAY: '10' })).toEqual([
      'OTP_MAX_SENDS_PER_DAY',
    ]);
  });

  it('reads the password limits and refuses values outside their bounds', () => {
    const { configuration } = loadConfiguration({ ...COMPLETE_PRODUCTION, LOGIN_MAX_FAILURES: '5', PASSWORD_HASH_CONCURRENCY: '2' });
    expect(configuration.otp).toMatchObject({ loginMaxFailures: 5, passwordHashConcurrency: 2 });
    expect(variablesOf({ ...COMPLETE_PRODUCTION, LOGIN_MAX_FAILURES: '0', PASSWORD_HASH_CONCURRENCY: 'many' })).toEqual([
      'LOGIN_MAX_FAILURES',
      'PASSWORD_HASH_CONCURRENCY',
    ]);
  });

  it('refuses unknown channels and providers by name', () => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, OTP_CHANNELS: 'email,pigeon' })).toEqual([
      'OTP_CHANNELS names "pigeon", which is not a channel (email, sms, whatsapp)',
    ]);
    expect(messagesOf({ ...COMPLETE_PRODUCTION, EMAIL_PROVIDERS: 'smtp,mailgun' })).toEqual([
      'EMAIL_PROVIDERS names "mailgun", which is not a email provider (smtp, ses, sendgrid, console)',
    ]);
  });

  it('names API keys by their name: prefix or by position, each with its scope', () => {
    const key = (c: string) => c.repeat(20);
    const { configuration, problems } = loadConfiguration({
      ...COMPLETE_PRODUCTION,
      API_KEYS: `mobile-app:${key('a')}, ${key('b')}`,
      ADMIN_API_KEYS: `${key('c')},support:${key('d')}`,
      API_KEY_RATE_LIMIT_PER_MINUTE: '120',
    });
    expect(problems).toEqual([]);
    expect(configuration.auth.apiKeys).toEqual([
      { name: 'mobile-app', key: key('a'), scope: 'application' },
      { name: 'key2', key: key('b'), scope: 'application' },
      { name: 'key1', key: key('c'), scope: 'admin' },
      { name: 'support', key: key('d'), scope: 'admin' },
    ]);
    expect(configuration.otp.apiKeyRateLimitPerMinute).toBe(120);
    expect(loadConfiguration(COMPLETE_PRODUCTION).configuration.otp.apiKeyRateLimitPerMinute).toBe(6000);
  });

  it('names a bad API key entry by its position, never by its value', () => {
    const messages = messagesOf({ ...COMPLETE_PRODUCTION, API_KEYS: `web:${'w'.repeat(20)},Bad Name:${'x'.repeat(20)},web:tooShort` });
    expect(messages).toEqual([expect.stringMatching(/^API_KEYS must be .*; not one: entry 2, 3$/)]);
    expect(messages.join('\n')).not.toContain('x'.repeat(20));
    expect(messages.join('\n')).not.toContain('tooShort');
  });

  it('refuses two keys of one name, and one key in both API_KEYS and ADMIN_API_KEYS', () => {
    const same = 's'.repeat(20);
    expect(messagesOf({ ...COMPLETE_PRODUCTION, API_KEYS: `web:${'a'.repeat(20)},web:${'b'.repeat(20)}` })).toEqual([
      'API_KEYS names two keys "web": each name must say which application called',
    ]);
    const shared = loadConfiguration({ ...COMPLETE_PRODUCTION, API_KEYS: `web:${same}`, ADMIN_API_KEYS: `ops:${same}` });
    expect(shared.problems.map((p) => p.message)).toEqual([
      'ADMIN_API_KEYS "ops" is also in API_KEYS as "web": an application\'s key must not reach /v1/admin',
    ]);
    expect(shared.configuration.auth.apiKeys).toEqual([{ name: 'web', key: same, scope: 'application' }]);
    expect(JSON.stringify(shared.problems)).not.toContain(same);
  });

  it('binds 127.0.0.1 in development and test, every interface in production', () => {
    expect(loadConfiguration({}).configuration.app.host).toBe('127.0.0.1');
    expect(loadConfiguration({ NODE_ENV: 'test' }).configuration.app.host).toBe('127.0.0.1');
    expect(loadConfiguration(COMPLETE_PRODUCTION).configuration.app.host).toBe('0.0.0.0');
    expect(loadConfiguration({ ...COMPLETE_PRODUCTION, HOST: '10.1.2.3' }).configuration.app.host).toBe('10.1.2.3');
    // Without config/ files too.
    const empty = { configDir: '/nonexistent' };
    expect(loadConfiguration({}, empty).configuration.app.host).toBe('127.0.0.1');
    expect(loadConfiguration(COMPLETE_PRODUCTION, empty).configuration.app.host).toBe('0.0.0.0');
  });

  it('in development without API_KEYS, asks for a generated key instead of warning; in test, warns', () => {
    const development = loadConfiguration({});
    expect(development.configuration.auth.developmentKeyFile).toBe('./.data/api-key');
    expect(development.problems.map((p) => p.variable)).not.toContain('API_KEYS');
    expect(loadConfiguration({ API_KEYS: 'k'.repeat(20) }).configuration.auth.developmentKeyFile).toBeUndefined();
    const test = loadConfiguration({ NODE_ENV: 'test' });
    expect(test.configuration.auth.developmentKeyFile).toBeUndefined();
    expect(test.problems.map((p) => p.warning)).toContain('API_KEYS is not set: /v1/verifications answers 401 to every request');
  });

  it('refuses the same secret for tokens and codes', () => {
    expect(variablesOf({ ...COMPLETE_PRODUCTION, OTP_SECRET: COMPLETE_PRODUCTION.JWT_SECRET })).toEqual(['OTP_SECRET']);
  });

  it('parses test destinations, normalizing them, and names a bad entry without its code', () => {
    const loaded = loadConfiguration({ OTP_TEST_DESTINATIONS: 'Review@Example.com:123456, +44 7911 123456:654321, bad:999999' });
    expect(loaded.configuration.otp.testDestinations).toEqual({ 'review@example.com': '123456', '+447911123456': '654321' });
    const problem = loaded.problems.find((p) => p.variable === 'OTP_TEST_DESTINATIONS');
    expect(problem?.message).toBe('OTP_TEST_DESTINATIONS entry for bad must be <email or E.164 phone>:<6 digits>');
    expect(JSON.stringify(loaded.problems)).not.toContain('999999');
  });

  it('refuses test destinations in any address syntax but the one every send uses', () => {
    const loaded = loadConfiguration({
      OTP_TEST_DESTINATIONS: '"bomb"@corp.test:123456, (1)review@corp.test:123456, review@corp.test:654321',
    });
    expect(loaded.configuration.otp.testDestinations).toEqual({ 'review@corp.test': '654321' });
    expect(loaded.problems.filter((p) => p.variable === 'OTP_TEST_DESTINATIONS')).toHaveLength(2);
  });

  it('allows mobile, fixed-line-or-mobile and VoIP numbers by default, and any types named in SMS_ALLOWED_NUMBER_TYPES', () => {
    expect(loadConfiguration({}).configuration.otp.smsAllowedNumberTypes).toEqual(['mobile', 'fixed_line_or_mobile', 'voip']);
    const loaded = loadConfiguration({ ...COMPLETE_PRODUCTION, SMS_ALLOWED_NUMBER_TYPES: ' Mobile, fixed_line ' });
    expect(loaded.problems).toEqual([]);
    expect(loaded.configuration.otp.smsAllowedNumberTypes).toEqual(['mobile', 'fixed_line']);
  });

  it('refuses unknown number types in SMS_ALLOWED_NUMBER_TYPES, naming the variable, and never widens the list', () => {
    const loaded = loadConfiguration({ ...COMPLETE_PRODUCTION, SMS_ALLOWED_NUMBER_TYPES: 'mobile,premium' });
    expect(loaded.problems.map((p) => p.message)).toEqual([
      'SMS_ALLOWED_NUMBER_TYPES must list number types of mobile, fixed_line, fixed_line_or_mobile, voip, toll_free, premium_rate, ' +
        'shared_cost, personal_number, pager, uan, voicemail; not one: premium',
    ]);
    expect(loaded.configuration.otp.smsAllowedNumberTypes).toEqual(['mobile']);
    const development = loadConfiguration({ SMS_ALLOWED_NUMBER_TYPES: 'all' });
    expect(development.problems.filter((p) => p.variable === 'SMS_ALLOWED_NUMBER_TYPES').map((p) => p.warning)).toEqual([
      'SMS_ALLOWED_NUMBER_TYPES has unknown number types (all): codes go to mobile,fixed_line_or_mobile,voip numbers',
    ]);
    expect(development.configuration.otp.smsAllowedNumberTypes).toEqual(['mobile', 'fixed_line_or_mobile', 'voip']);
  });

  it('refuses unknown country codes in SMS_ALLOWED_COUNTRIES', () => {
    const loaded = loadConfiguration({ ...COMPLETE_PRODUCTION, SMS_ALLOWED_COUNTRIES: 'gb, US, XX' });
    expect(loaded.problems.map((p) => p.variable)).toEqual(['SMS_ALLOWED_COUNTRIES']);
    expect(loaded.configuration.otp.smsAllowedCountries).toEqual(['GB', 'US']);
  });

  it('notices a likely typo in a variable name', () => {
    expect(loadConfiguration({ SMTP_HOSTNAME: 'x' }).notices).toContain(
      'SMTP_HOSTNAME is not a setting this service reads (a typo?); it is ignored',
    );
  });
});

describe('loadConfiguration in development', () => {
  it('starts from nothing with working defaults', () => {
    const { configuration } = loadConfiguration({});
    expect(configuration.app).toMatchObject({ env: 'development', port: 3000, host: '127.0.0.1' });
    expect(configuration.redis.url).toBeUndefined();
    expect(configuration.database).toEqual({ url: undefined, embeddedDir: './.data/pglite' });
    expect(configuration.messaging.chains.email).toEqual(['smtp', 'console']);
    expect(configuration.messaging.chains.sms).toEqual(['twilio', 'console']);
    expect(configuration.otp).toMatchObject({ length: 6, ttlSeconds: 600, maxAttempts: 5, maxSends: 5, resendCooldownSeconds: 30 });
  });

  it('says what will not work and what happens instead', () => {
    const warnings = loadConfiguration({}).problems.map((p) => p.warning);
    expect(warnings).toContain('email: smtp is not configured (SMTP_HOST, SMTP_FROM missing): codes go to the console provider');
    expect(warnings).not.toContain(expect.stringContaining('API_KEYS'));
    expect(warnings).toContain(
      'JWT_SECRET is not set: a random one is used for this run, so access tokens stop working when the process restarts',
    );
  });

  it('says a channel cannot deliver when no provider of its chain is usable', () => {
    const warnings = loadConfiguration({ EMAIL_PROVIDERS: 'smtp' }).problems.map((p) => p.warning);
    expect(warnings).toContain(
      'email: smtp is not configured (SMTP_HOST, SMTP_FROM missing): ' +
        'email codes cannot be delivered and sends answer 503 CHANNEL_UNAVAILABLE',
    );
  });

  it('falls back to the default for an invalid value and says so', () => {
    const loaded = loadConfiguration({ OTP_LENGTH: 'twelve' });
    expect(loaded.configuration.otp.length).toBe(6);
    expect(loaded.problems.map((p) => p.warning)).toContain('OTP_LENGTH must be a whole number from 6 to 10: using the default 6');
  });

  it('makes random secrets for the run, different each time', () => {
    const first = loadConfiguration({}).configuration;
    const second = loadConfiguration({}).configuration;
    expect(first.auth.jwtSecretGenerated).toBe(true);
    expect(first.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(first.auth.jwtSecret).not.toBe(second.auth.jwtSecret);
    expect(first.otp.secret).not.toBe(first.auth.jwtSecret);
  });

  it('allows OTP_FIXED_CODE of the configured length', () => {
    expect(loadConfiguration({ OTP_FIXED_CODE: '000000' }).configuration.otp.fixedCode).toBe('000000');
    expect(loadConfiguration({ OTP_FIXED_CODE: '00000000' }).configuration.otp.fixedCode).toBeUndefined();
  });

  it('uses an in-memory embedded database in test mode', () => {
    expect(loadConfiguration({ NODE_ENV: 'test' }).configuration.database.embeddedDir).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfiguration({ PORT: '', REDIS_URL: '  ' }).configuration).toMatchObject({
      app: { port: 3000 },
      redis: { url: undefined },
    });
  });
});

describe('config files', () => {
  function configDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'otp-config-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('layers the mode file over the default file, and the environment over both', () => {
    const dir = configDir({ 'default.yaml': 'OTP_LENGTH: 8\nOTP_MAX_ATTEMPTS: 3\n', 'development.yaml': 'OTP_MAX_ATTEMPTS: 4\n' });
    const otp = loadConfiguration({ OTP_LENGTH: '7' }, { configDir: dir }).configuration.otp;
    expect(otp.length).toBe(7);
    expect(otp.maxAttempts).toBe(4);
  });

  it('refuses a secret in a file', () => {
    const dir = configDir({ 'default.yaml': 'JWT_SECRET: this-should-never-be-in-a-file-0123456789\n' });
    const loaded = loadConfiguration({}, { configDir: dir });
    expect(loaded.problems.map((p) => p.message)).toContain(
      'JWT_SECRET must come from the environment, not from config/default.yaml: it is a secret',
    );
    expect(loaded.configuration.auth.jwtSecretGenerated).toBe(true);
  });

  it('reports a file that is not valid YAML', () => {
    const dir = configDir({ 'default.yaml': 'OTP_LENGTH: [6\n' });
    expect(loadConfiguration({}, { configDir: dir }).problems.map((p) => p.variable)).toContain('config/default.yaml');
  });

  it('ships defaults that match the SPEC', () => {
    const { configuration } = loadConfiguration({ NODE_ENV: 'production', ...COMPLETE_PRODUCTION });
    expect(configuration.messaging.chains).toEqual({ email: ['smtp'], sms: ['twilio'], whatsapp: ['twilio-whatsapp'] });
    expect(configuration.messaging.circuit).toEqual({ failureThreshold: 5, openSeconds: 60 });
    expect(configuration.messaging.delivery).toEqual({ attempts: 5, backoffMs: 1000, worker: true });
    expect(configuration.otp).toMatchObject({
      maxSendsPerHour: 5,
      maxSendsPerDay: 10,
      rateLimitIpPerMinute: 30,
      loginMaxFailures: 10,
      passwordHashConcurrency: 4,
    });
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  const CLUSTER_PRODUCTION = {
    ...COMPLETE_PRODUCTION,
    REDIS_URL: undefined,
    REDIS_CLUSTER_NODES: 'redis-0.redis:6379,redis-1.redis:6379,redis-2.redis:6379',
  };
  const seedsMessage = 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port seed nodes (e.g. redis-0:6379,redis-1:6379)';

  it('stands in for REDIS_URL in production, and parses the seeds', () => {
    const loaded = loadConfiguration(CLUSTER_PRODUCTION);
    expect(loaded.problems).toEqual([]);
    expect(loaded.configuration.redis).toEqual({
      url: undefined,
      clusterNodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: 'redis-1.redis', port: 6379 },
        { host: 'redis-2.redis', port: 6379 },
      ],
    });
  });

  it('accepts IPv4 and bracketed IPv6 seeds, trims them and drops repeats', () => {
    const { configuration, problems } = loadConfiguration({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000 , [fd00::1]:7001,10.0.0.1:7000,' });
    expect(problems.map((p) => p.variable)).not.toContain('REDIS_CLUSTER_NODES');
    expect(configuration.redis.clusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'fd00::1', port: 7001 },
    ]);
  });

  it.each([
    ['redis-0', `${seedsMessage}; not one: redis-0`],
    ['redis-0:6379,redis-1:70000,redis-2:0', `${seedsMessage}; not one: redis-1:70000, redis-2:0`],
    ['redis://redis-0:6379', `${seedsMessage}; not one: redis://redis-0:6379`],
    ['fd00::1:7000', `${seedsMessage}; not one: fd00::1:7000`],
    ['[not-an-address]:7000', `${seedsMessage}; not one: [not-an-address]:7000`],
    [' , ', seedsMessage],
  ])('refuses %j and names the entries at fault', (value, message) => {
    // ' , ' is not blank, so it is not taken for unset.
    expect(messagesOf({ ...CLUSTER_PRODUCTION, REDIS_CLUSTER_NODES: value })).toEqual([message]);
  });

  it('is ignored when malformed outside production, falling back to REDIS_URL', () => {
    const loaded = loadConfiguration({ REDIS_URL: 'redis://localhost:6379', REDIS_CLUSTER_NODES: 'redis-0' });
    expect(loaded.configuration.redis).toEqual({ url: 'redis://localhost:6379', clusterNodes: undefined });
    expect(loaded.problems.map((p) => p.warning)).toContain(`${seedsMessage}; not one: redis-0: it is ignored`);
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together in production', () => {
    expect(messagesOf({ ...CLUSTER_PRODUCTION, REDIS_URL: COMPLETE_PRODUCTION.REDIS_URL })).toEqual([
      'REDIS_URL and REDIS_CLUSTER_NODES are both set: set only one (REDIS_URL for one Redis server, ' +
        'REDIS_CLUSTER_NODES for a Redis Cluster, REDIS_SENTINELS for a master watched by Sentinel)',
    ]);
  });

  it('uses the cluster when both are set outside production, and says so', () => {
    const loaded = loadConfiguration({ REDIS_URL: 'redis://localhost:6379', REDIS_CLUSTER_NODES: 'localhost:7000' });
    expect(loaded.configuration.redis).toEqual({ url: undefined, clusterNodes: [{ host: 'localhost', port: 7000 }] });
    expect(loaded.problems.map((p) => p.warning)).toContain(
      'REDIS_URL and REDIS_CLUSTER_NODES are both set: REDIS_CLUSTER_NODES is used and REDIS_URL is ignored',
    );
  });

  it('names every way of giving Redis when production has none', () => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, REDIS_URL: undefined })).toEqual([
      'REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS is required in production ' +
        '(OTP state, limits and the delivery queue are shared by every replica)',
    ]);
  });
});

describe('REDIS_SENTINELS', () => {
  const SENTINEL_PRODUCTION = {
    ...COMPLETE_PRODUCTION,
    REDIS_URL: undefined,
    REDIS_SENTINELS: 'sentinel-0:26379, sentinel-1:26379,sentinel-0:26379',
  };

  it('stands in for REDIS_URL in production, with the master group named or mymaster', () => {
    const loaded = loadConfiguration({ ...SENTINEL_PRODUCTION, REDIS_SENTINEL_NAME: 'otp-redis' });
    expect(loaded.problems).toEqual([]);
    expect(loaded.configuration.redis).toEqual({
      url: undefined,
      clusterNodes: undefined,
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: 'sentinel-1', port: 26379 },
      ],
      sentinelName: 'otp-redis',
    });
    expect(loadConfiguration(SENTINEL_PRODUCTION).configuration.redis.sentinelName).toBe('mymaster');
  });

  it('refuses malformed Sentinels and master names, naming the entries at fault', () => {
    expect(messagesOf({ ...SENTINEL_PRODUCTION, REDIS_SENTINELS: 'sentinel-0,sentinel-1:26379' })).toEqual([
      'REDIS_SENTINELS must be a comma-separated list of host:port Sentinels (e.g. sentinel-0:26379,sentinel-1:26379); not one: sentinel-0',
    ]);
    expect(messagesOf({ ...SENTINEL_PRODUCTION, REDIS_SENTINEL_NAME: 'my master' })).toEqual([
      'REDIS_SENTINEL_NAME must be 1-64 letters, digits, dots, dashes or underscores',
    ]);
  });

  it('refuses REDIS_URL beside it in production, and uses Sentinel outside production, saying so', () => {
    expect(messagesOf({ ...SENTINEL_PRODUCTION, REDIS_URL: COMPLETE_PRODUCTION.REDIS_URL })).toEqual([
      'REDIS_URL and REDIS_SENTINELS are both set: set only one (REDIS_URL for one Redis server, ' +
        'REDIS_CLUSTER_NODES for a Redis Cluster, REDIS_SENTINELS for a master watched by Sentinel)',
    ]);
    const loaded = loadConfiguration({ REDIS_URL: 'redis://localhost:6379', REDIS_SENTINELS: 'localhost:26379' });
    expect(loaded.configuration.redis).toMatchObject({ url: undefined, sentinels: [{ host: 'localhost', port: 26379 }] });
    expect(loaded.problems.map((p) => p.warning)).toContain(
      'REDIS_URL and REDIS_SENTINELS are both set: REDIS_SENTINELS is used and REDIS_URL is ignored',
    );
  });

  it('gives way to a cluster when all three are set', () => {
    const loaded = loadConfiguration({
      REDIS_URL: 'redis://localhost:6379',
      REDIS_CLUSTER_NODES: 'localhost:7000',
      REDIS_SENTINELS: 'localhost:26379',
    });
    expect(loaded.configuration.redis).toEqual({ url: undefined, clusterNodes: [{ host: 'localhost', port: 7000 }] });
    expect(loaded.problems.map((p) => p.warning)).toContain(
      'REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS are all set: ' +
        'REDIS_CLUSTER_NODES is used and REDIS_URL and REDIS_SENTINELS are ignored',
    );
  });
});

describe('DELIVERY_WORKER', () => {
  it('works on the queue by default, and not when an API-only replica says so', () => {
    expect(loadConfiguration(COMPLETE_PRODUCTION).configuration.messaging.delivery.worker).toBe(true);
    const apiOnly = loadConfiguration({ ...COMPLETE_PRODUCTION, DELIVERY_WORKER: 'false' });
    expect(apiOnly.problems).toEqual([]);
    expect(apiOnly.configuration.messaging.delivery.worker).toBe(false);
    expect(apiOnly.notices).toContain(
      'DELIVERY_WORKER=false: this process queues messages but sends none; ' +
        'they wait in the queue until a replica with DELIVERY_WORKER=true runs',
    );
  });

  it('keeps delivering when the value is malformed outside production', () => {
    const loaded = loadConfiguration({ REDIS_URL: 'redis://localhost:6379', DELIVERY_WORKER: 'api' });
    expect(loaded.problems.map((p) => p.variable)).toContain('DELIVERY_WORKER');
    expect(loaded.configuration.messaging.delivery.worker).toBe(true);
    expect(loaded.notices.filter((notice) => notice.startsWith('DELIVERY_WORKER'))).toEqual([]);
  });

  it('is ignored in embedded mode, where no other process could send', () => {
    const loaded = loadConfiguration({ DELIVERY_WORKER: 'false' });
    expect(loaded.configuration.messaging.delivery.worker).toBe(true);
    expect(loaded.notices).toContain(
      'DELIVERY_WORKER=false is ignored without Redis: in embedded mode this process sends its own messages',
    );
  });
});

describe('REFRESH_TOKEN_TTL_DAYS and SESSION_MAX_DAYS', () => {
  it('default to a 30-day sliding and a 90-day absolute session lifetime, as the SPEC says', () => {
    expect(loadConfiguration(COMPLETE_PRODUCTION).configuration.auth.sessions).toEqual({ refreshTokenTtlDays: 30, maxDays: 90 });
    expect(loadConfiguration({}).configuration.auth.sessions).toEqual({ refreshTokenTtlDays: 30, maxDays: 90 });
  });

  it('are read from the environment', () => {
    const loaded = loadConfiguration({ ...COMPLETE_PRODUCTION, REFRESH_TOKEN_TTL_DAYS: '7', SESSION_MAX_DAYS: '14' });
    expect(loaded.problems).toEqual([]);
    expect(loaded.configuration.auth.sessions).toEqual({ refreshTokenTtlDays: 7, maxDays: 14 });
  });

  it.each([
    ['REFRESH_TOKEN_TTL_DAYS', '0', 'REFRESH_TOKEN_TTL_DAYS must be a whole number from 1 to 365'],
    ['REFRESH_TOKEN_TTL_DAYS', '1.5', 'REFRESH_TOKEN_TTL_DAYS must be a whole number from 1 to 365'],
    ['SESSION_MAX_DAYS', 'forever', 'SESSION_MAX_DAYS must be a whole number from 1 to 3650'],
    ['SESSION_MAX_DAYS', '3651', 'SESSION_MAX_DAYS must be a whole number from 1 to 3650'],
  ])('refuses %s=%s in production', (name, value, message) => {
    expect(messagesOf({ ...COMPLETE_PRODUCTION, [name]: value })).toEqual([message]);
  });

  it('falls back to the default for a malformed value outside production, and says so', () => {
    const loaded = loadConfiguration({ SESSION_MAX_DAYS: '0' });
    expect(loaded.problems.map((p) => p.warning)).toContain('SESSION_MAX_DAYS must be a whole number from 1 to 3650: using the default 90');
    expect(loaded.configuration.auth.sessions.maxDays).toBe(90);
  });
});

describe('READINESS_REQUIRES_CHANNELS and SMTP_REQUIRE_TLS', () => {
  it('default to readiness without channels and STARTTLS required', () => {
    const { app, messaging } = loadConfiguration(COMPLETE_PRODUCTION).configuration;
    expect(app.readinessRequiresChannels).toBe(false);
    expect(messaging.smtp.requireTls).toBe(true);
  });

  it('read true and false from the environment', () => {
    const { app, messaging } = loadConfiguration({
      ...COMPLETE_PRODUCTION,
      READINESS_REQUIRES_CHANNELS: 'true',
      SMTP_REQUIRE_TLS: 'false',
    }).configuration;
    expect(app.readinessRequiresChannels).toBe(true);
    expect(messaging.smtp.requireTls).toBe(false);
  });

  it('warns in production when SMTP may go out in plain text, and not when smtp is in no chain', () => {
    const warning =
      'SMTP_REQUIRE_TLS=false in production: a relay that does not offer STARTTLS gets codes in plain text; ' +
      'only for a relay inside your network';
    const loaded = loadConfiguration({ ...COMPLETE_PRODUCTION, SMTP_REQUIRE_TLS: 'false' });
    expect(loaded.problems).toEqual([]);
    expect(loaded.notices).toContain(warning);
    expect(loadConfiguration({ ...COMPLETE_PRODUCTION, SMTP_REQUIRE_TLS: 'false', OTP_CHANNELS: 'sms' }).notices).not.toContain(warning);
    expect(loadConfiguration({ SMTP_REQUIRE_TLS: 'false' }).notices).not.toContain(warning);
  });
});

describe('the fraud guard settings', () => {
  const fraudOf = (env: Record<string, string | undefined>) => loadConfiguration({ NODE_ENV: 'test', ...env }).configuration.otp.fraud;

  it('defaults to the shipped caps and suspension rule', () => {
    expect(fraudOf({})).toEqual({
      prefixPerHour: 10,
      countryPerHour: { '*': 200 },
      channelPerHour: {},
      minSample: 30,
      graceSeconds: 120,
      minConversion: 0.2,
      suspendMinutes: 60,
    });
  });

  it('reads per-country overrides, keeping 200 for the others when the list has no *', () => {
    expect(fraudOf({ SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:50,gb:5000,US:0' }).countryPerHour).toEqual({ '*': 50, GB: 5000, US: 0 });
    expect(fraudOf({ SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: 'GB:5000' }).countryPerHour).toEqual({ '*': 200, GB: 5000 });
  });

  it('reads a cap per channel, or one number for every channel', () => {
    expect(fraudOf({ OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR: 'sms:2000,WhatsApp:500' }).channelPerHour).toEqual({ sms: 2000, whatsapp: 500 });
    expect(fraudOf({ OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR: '3000' }).channelPerHour).toEqual({ '*': 3000 });
  });

  it('names the entries it cannot read', () => {
    expect(messagesOf({ NODE_ENV: 'production', SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:200,XX:10,GB' })).toContain(
      'SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR must be comma-separated key:count entries (key * or an ISO 3166 alpha-2 country code; ' +
        'count a whole number, 0 = no cap); not one: XX:10, GB',
    );
    expect(messagesOf({ NODE_ENV: 'production', OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR: 'fax:10' })[0]).toMatch(
      /^OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR .*not one: fax:10$/,
    );
    expect(messagesOf({ NODE_ENV: 'production', FRAUD_MIN_CONVERSION: '1.5' })).toContain(
      'FRAUD_MIN_CONVERSION must be a number from 0 to 1',
    );
  });

  it('says when a setting cannot have an effect', () => {
    const { notices } = loadConfiguration({
      NODE_ENV: 'test',
      OTP_CHANNELS: 'email,sms',
      SMS_ALLOWED_COUNTRIES: 'GB,FR',
      OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR: 'whatsapp:100',
      SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:20,US:500',
    });
    expect(notices).toEqual(
      expect.arrayContaining([
        'OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR caps whatsapp, which OTP_CHANNELS does not enable: the cap has no effect',
        'SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR names US, which SMS_ALLOWED_COUNTRIES refuses: those caps have no effect',
        'SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR caps every other country below FRAUD_MIN_SAMPLE (30): automatic suspension never ' +
          'applies there, ' +
          'the cap alone limits them',
      ]),
    );
  });
});
