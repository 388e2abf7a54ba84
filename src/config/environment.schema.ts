import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { isIP } from 'node:net';

/**
 * The format of each variable on its own. Rules that tie variables together (a provider
 * named in a chain needs its credentials, production refuses `console`, …) live in
 * `configuration.rules.ts`. Messages never include the value: some of these are secrets.
 */

const E164 = /^\+[1-9]\d{6,14}$/;
const TWILIO_ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
/** `addr@example.com` or `Name <addr@example.com>`. */
const SENDER_ADDRESS = /^(?:[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;

function IsUrlWithScheme(schemes: string[], options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isUrlWithScheme',
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return false;
          try {
            const url = new URL(value);
            return schemes.includes(url.protocol.replace(/:$/, '')) && url.hostname !== '';
          } catch {
            return false;
          }
        },
      },
    },
    options,
  );
}

function IsTrustProxy(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTrustProxy',
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string' || value.trim() === '') return false;
          if (/^\d{1,2}$/.test(value.trim())) return true;
          return value.split(',').every((entry) => isAddressOrCidr(entry.trim()));
        },
      },
    },
    options,
  );
}

export function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** One Redis Cluster seed, `host:port` or `[ipv6]:port`; `undefined` when it is not one. */
export function parseRedisSeed(entry: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(entry.trim());
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port < 1 || port > 65535 || (match[1] !== undefined && isIP(host) !== 6)) return undefined;
  return { host, port };
}

export const listEntries = (value: string): string[] => value.split(',').map((entry) => entry.trim()).filter(Boolean);

function IsRedisSeedList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isRedisSeedList',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && listEntries(value).length > 0 && listEntries(value).every((entry) => parseRedisSeed(entry) !== undefined),
      },
    },
    options,
  );
}

function redisSeedsMessage(value: unknown, variable = 'REDIS_CLUSTER_NODES', example = 'host:port seed nodes (e.g. redis-0:6379,redis-1:6379)'): string {
  const bad = listEntries(String(value)).filter((entry) => parseRedisSeed(entry) === undefined);
  return `${variable} must be a comma-separated list of ${example}` + (bad.length > 0 ? `; not one: ${bad.join(', ')}` : '');
}

const API_KEY_NAME = /^[a-z0-9-]{1,32}$/;
/** Printable ASCII without space or comma (the list separator). */
const API_KEY = /^[\x21-\x2b\x2d-\x7e]{16,256}$/;

/**
 * One `name:key` entry of API_KEYS / ADMIN_API_KEYS, or a bare key (named by its position later).
 * A key that itself starts with something like `abc:` must be given a name, or that part is read as one.
 */
export function parseApiKeyEntry(entry: string): { name?: string; key: string } | undefined {
  const separator = entry.indexOf(':');
  if (separator > 0 && API_KEY_NAME.test(entry.slice(0, separator))) {
    const key = entry.slice(separator + 1);
    return API_KEY.test(key) ? { name: entry.slice(0, separator), key } : undefined;
  }
  return API_KEY.test(entry) ? { key: entry } : undefined;
}

function IsApiKeyList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isApiKeyList',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && listEntries(value).length > 0 && listEntries(value).every((entry) => parseApiKeyEntry(entry) !== undefined),
      },
    },
    options,
  );
}

/** Names the entries at fault by position only: the value is a secret. */
function apiKeysMessage(variable: string, value: unknown): string {
  const bad = listEntries(String(value))
    .map((entry, index) => (parseApiKeyEntry(entry) === undefined ? index + 1 : 0))
    .filter((position) => position > 0);
  return (
    `${variable} must be comma-separated name:key entries (name: 1-32 of a-z, 0-9 and -, optional; ` +
    'key: 16 to 256 printable characters without spaces)' +
    (bad.length > 0 ? `; not one: entry ${bad.join(', ')}` : '')
  );
}

const integer = (name: string, min: number, max: number) =>
  `${name} must be a whole number from ${min} to ${max}`;

export class EnvironmentVariables {
  @IsOptional()
  @IsIn(['development', 'test', 'production'], { message: 'NODE_ENV must be one of development, test, production' })
  NODE_ENV?: string;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('PORT', 0, 65535) }) @Min(0, { message: integer('PORT', 0, 65535) })
  @Max(65535, { message: integer('PORT', 0, 65535) })
  PORT?: number;

  @IsOptional() @MinLength(1, { message: 'HOST must not be empty' })
  HOST?: string;

  @IsOptional()
  @IsTrustProxy({ message: 'TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of IP addresses or CIDR ranges' })
  TRUST_PROXY?: string;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('SHUTDOWN_DRAIN_MS', 0, 20000) }) @Min(0, { message: integer('SHUTDOWN_DRAIN_MS', 0, 20000) })
  @Max(20000, { message: integer('SHUTDOWN_DRAIN_MS', 0, 20000) })
  SHUTDOWN_DRAIN_MS?: number;

  @IsOptional() @IsIn(['true', 'false', '1', '0', 'yes', 'no'], { message: 'READINESS_REQUIRES_CHANNELS must be true or false' })
  READINESS_REQUIRES_CHANNELS?: string;

  @IsOptional() @IsIn(['true', 'false', '1', '0', 'yes', 'no'], { message: 'UI_ENABLED must be true or false' })
  UI_ENABLED?: string;

  @IsOptional() @Matches(/^[\w.-]{1,64}$/, { message: 'GIT_COMMIT must be a commit id (letters, digits, . _ -)' })
  GIT_COMMIT?: string;

  @IsOptional() @IsUrlWithScheme(['redis', 'rediss'], { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  // Host names and ports are no secret, so the message can name the entries at fault.
  @IsOptional()
  @IsRedisSeedList({ message: ({ value }) => redisSeedsMessage(value) })
  REDIS_CLUSTER_NODES?: string;

  @IsOptional()
  @IsRedisSeedList({ message: ({ value }) => redisSeedsMessage(value, 'REDIS_SENTINELS', 'host:port Sentinels (e.g. sentinel-0:26379,sentinel-1:26379)') })
  REDIS_SENTINELS?: string;

  // Sentinel accepts any name without spaces; these characters cover every name seen in practice.
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'REDIS_SENTINEL_NAME must be 1-64 letters, digits, dots, dashes or underscores' })
  REDIS_SENTINEL_NAME?: string;

  @IsOptional()
  @IsUrlWithScheme(['postgres', 'postgresql'], { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @IsOptional() @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters long' })
  JWT_SECRET?: string;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('REFRESH_TOKEN_TTL_DAYS', 1, 365) }) @Min(1, { message: integer('REFRESH_TOKEN_TTL_DAYS', 1, 365) })
  @Max(365, { message: integer('REFRESH_TOKEN_TTL_DAYS', 1, 365) })
  REFRESH_TOKEN_TTL_DAYS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('SESSION_MAX_DAYS', 1, 3650) }) @Min(1, { message: integer('SESSION_MAX_DAYS', 1, 3650) })
  @Max(3650, { message: integer('SESSION_MAX_DAYS', 1, 3650) })
  SESSION_MAX_DAYS?: number;

  @IsOptional() @MinLength(32, { message: 'OTP_SECRET must be at least 32 characters long' })
  OTP_SECRET?: string;

  @IsOptional() @IsApiKeyList({ message: ({ value }) => apiKeysMessage('API_KEYS', value) })
  API_KEYS?: string;

  @IsOptional() @IsApiKeyList({ message: ({ value }) => apiKeysMessage('ADMIN_API_KEYS', value) })
  ADMIN_API_KEYS?: string;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('API_KEY_RATE_LIMIT_PER_MINUTE', 1, 1000000) })
  @Min(1, { message: integer('API_KEY_RATE_LIMIT_PER_MINUTE', 1, 1000000) })
  @Max(1000000, { message: integer('API_KEY_RATE_LIMIT_PER_MINUTE', 1, 1000000) })
  API_KEY_RATE_LIMIT_PER_MINUTE?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_LENGTH', 6, 10) }) @Min(6, { message: integer('OTP_LENGTH', 6, 10) })
  @Max(10, { message: integer('OTP_LENGTH', 6, 10) })
  OTP_LENGTH?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_TTL_SECONDS', 60, 86400) }) @Min(60, { message: integer('OTP_TTL_SECONDS', 60, 86400) })
  @Max(86400, { message: integer('OTP_TTL_SECONDS', 60, 86400) })
  OTP_TTL_SECONDS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_MAX_ATTEMPTS', 1, 100) }) @Min(1, { message: integer('OTP_MAX_ATTEMPTS', 1, 100) })
  @Max(100, { message: integer('OTP_MAX_ATTEMPTS', 1, 100) })
  OTP_MAX_ATTEMPTS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_MAX_SENDS', 1, 20) }) @Min(1, { message: integer('OTP_MAX_SENDS', 1, 20) })
  @Max(20, { message: integer('OTP_MAX_SENDS', 1, 20) })
  OTP_MAX_SENDS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_RESEND_COOLDOWN_SECONDS', 0, 3600) })
  @Min(0, { message: integer('OTP_RESEND_COOLDOWN_SECONDS', 0, 3600) })
  @Max(3600, { message: integer('OTP_RESEND_COOLDOWN_SECONDS', 0, 3600) })
  OTP_RESEND_COOLDOWN_SECONDS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_MAX_SENDS_PER_HOUR', 1, 10000) })
  @Min(1, { message: integer('OTP_MAX_SENDS_PER_HOUR', 1, 10000) })
  @Max(10000, { message: integer('OTP_MAX_SENDS_PER_HOUR', 1, 10000) })
  OTP_MAX_SENDS_PER_HOUR?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('OTP_MAX_SENDS_PER_DAY', 1, 100000) })
  @Min(1, { message: integer('OTP_MAX_SENDS_PER_DAY', 1, 100000) })
  @Max(100000, { message: integer('OTP_MAX_SENDS_PER_DAY', 1, 100000) })
  OTP_MAX_SENDS_PER_DAY?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('RATE_LIMIT_IP_PER_MINUTE', 1, 1000000) })
  @Min(1, { message: integer('RATE_LIMIT_IP_PER_MINUTE', 1, 1000000) })
  @Max(1000000, { message: integer('RATE_LIMIT_IP_PER_MINUTE', 1, 1000000) })
  RATE_LIMIT_IP_PER_MINUTE?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('LOGIN_MAX_FAILURES', 1, 10000) })
  @Min(1, { message: integer('LOGIN_MAX_FAILURES', 1, 10000) })
  @Max(10000, { message: integer('LOGIN_MAX_FAILURES', 1, 10000) })
  LOGIN_MAX_FAILURES?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('PASSWORD_HASH_CONCURRENCY', 1, 256) })
  @Min(1, { message: integer('PASSWORD_HASH_CONCURRENCY', 1, 256) })
  @Max(256, { message: integer('PASSWORD_HASH_CONCURRENCY', 1, 256) })
  PASSWORD_HASH_CONCURRENCY?: number;

  @IsOptional() @MinLength(1, { message: 'OTP_CHANNELS must name at least one channel' }) OTP_CHANNELS?: string;
  @IsOptional() @MinLength(1, { message: 'EMAIL_PROVIDERS must name at least one provider' }) EMAIL_PROVIDERS?: string;
  @IsOptional() @MinLength(1, { message: 'SMS_PROVIDERS must name at least one provider' }) SMS_PROVIDERS?: string;
  @IsOptional() @MinLength(1, { message: 'WHATSAPP_PROVIDERS must name at least one provider' }) WHATSAPP_PROVIDERS?: string;
  @IsOptional() SMS_ALLOWED_COUNTRIES?: string;
  // Each name is checked against libphonenumber's types where the list is read, so the problem can name the unknown ones.
  @IsOptional() @MinLength(1, { message: 'SMS_ALLOWED_NUMBER_TYPES must name at least one number type' }) SMS_ALLOWED_NUMBER_TYPES?: string;

  @IsOptional()
  @Matches(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, {
    message: 'OTP_WEBOTP_DOMAIN must be a bare domain name such as example.com',
  })
  OTP_WEBOTP_DOMAIN?: string;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('CIRCUIT_FAILURE_THRESHOLD', 1, 1000) })
  @Min(1, { message: integer('CIRCUIT_FAILURE_THRESHOLD', 1, 1000) })
  @Max(1000, { message: integer('CIRCUIT_FAILURE_THRESHOLD', 1, 1000) })
  CIRCUIT_FAILURE_THRESHOLD?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('CIRCUIT_OPEN_SECONDS', 1, 3600) }) @Min(1, { message: integer('CIRCUIT_OPEN_SECONDS', 1, 3600) })
  @Max(3600, { message: integer('CIRCUIT_OPEN_SECONDS', 1, 3600) })
  CIRCUIT_OPEN_SECONDS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('DELIVERY_ATTEMPTS', 1, 20) }) @Min(1, { message: integer('DELIVERY_ATTEMPTS', 1, 20) })
  @Max(20, { message: integer('DELIVERY_ATTEMPTS', 1, 20) })
  DELIVERY_ATTEMPTS?: number;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('DELIVERY_BACKOFF_MS', 10, 600000) })
  @Min(10, { message: integer('DELIVERY_BACKOFF_MS', 10, 600000) })
  @Max(600000, { message: integer('DELIVERY_BACKOFF_MS', 10, 600000) })
  DELIVERY_BACKOFF_MS?: number;

  @IsOptional() @IsIn(['true', 'false', '1', '0', 'yes', 'no'], { message: 'DELIVERY_WORKER must be true or false' })
  DELIVERY_WORKER?: string;

  @IsOptional() OTP_TEST_DESTINATIONS?: string;

  @IsOptional() @Matches(/^\d{6,10}$/, { message: 'OTP_FIXED_CODE must be 6 to 10 digits' })
  OTP_FIXED_CODE?: string;

  @IsOptional() @Matches(/^[A-Za-z0-9.-]{1,253}$|^\[[0-9a-fA-F:.]+\]$/, { message: 'SMTP_HOST must be a host name or IP address' })
  SMTP_HOST?: string;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: integer('SMTP_PORT', 1, 65535) }) @Min(1, { message: integer('SMTP_PORT', 1, 65535) })
  @Max(65535, { message: integer('SMTP_PORT', 1, 65535) })
  SMTP_PORT?: number;

  @IsOptional() @IsIn(['true', 'false', '1', '0', 'yes', 'no'], { message: 'SMTP_SECURE must be true or false' })
  SMTP_SECURE?: string;

  @IsOptional() @IsIn(['true', 'false', '1', '0', 'yes', 'no'], { message: 'SMTP_REQUIRE_TLS must be true or false' })
  SMTP_REQUIRE_TLS?: string;

  @IsOptional() @MinLength(1, { message: 'SMTP_USER must not be empty' }) @MaxLength(256, { message: 'SMTP_USER is too long' })
  SMTP_USER?: string;

  @IsOptional() @MinLength(1, { message: 'SMTP_PASSWORD must not be empty' }) SMTP_PASSWORD?: string;

  @IsOptional() @Matches(SENDER_ADDRESS, { message: 'SMTP_FROM must be an email address, optionally as "Name <address>"' })
  SMTP_FROM?: string;

  @IsOptional() @Matches(/^AC[0-9a-f]{32}$/, { message: 'TWILIO_ACCOUNT_SID must be AC followed by 32 lower-case hex digits' })
  TWILIO_ACCOUNT_SID?: string;

  @IsOptional() @Matches(/^[0-9a-f]{32}$/, { message: 'TWILIO_AUTH_TOKEN must be 32 lower-case hex digits' })
  TWILIO_AUTH_TOKEN?: string;

  @IsOptional()
  @ValidateBy(
    { name: 'isTwilioSender', validator: { validate: (v: unknown) => typeof v === 'string' && (E164.test(v) || TWILIO_ALPHANUMERIC_SENDER.test(v)) } },
    { message: 'TWILIO_FROM must be an E.164 number (+14155550100) or an alphanumeric sender id of up to 11 characters' },
  )
  TWILIO_FROM?: string;

  @IsOptional()
  @Matches(/^MG[0-9a-f]{32}$/, { message: 'TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 lower-case hex digits' })
  TWILIO_MESSAGING_SERVICE_SID?: string;

  @IsOptional()
  @Matches(/^VA[0-9a-f]{32}$/, { message: 'TWILIO_VERIFY_SERVICE_SID must be VA followed by 32 lower-case hex digits' })
  TWILIO_VERIFY_SERVICE_SID?: string;

  @IsOptional()
  @Matches(/^(whatsapp:)?\+[1-9]\d{6,14}$/, { message: 'TWILIO_WHATSAPP_FROM must be an E.164 number (+14155550100)' })
  TWILIO_WHATSAPP_FROM?: string;

  @IsOptional() @IsUrlWithScheme(['http', 'https'], { message: 'TWILIO_API_BASE_URL must be an http:// or https:// URL' })
  TWILIO_API_BASE_URL?: string;

  @IsOptional() @Matches(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'AWS_REGION must be an AWS region such as eu-west-1' })
  AWS_REGION?: string;

  @IsOptional() @Matches(/^[A-Z0-9]{16,128}$/, { message: 'AWS_ACCESS_KEY_ID must be 16 to 128 upper-case letters and digits' })
  AWS_ACCESS_KEY_ID?: string;

  @IsOptional() @MinLength(16, { message: 'AWS_SECRET_ACCESS_KEY must be at least 16 characters long' })
  AWS_SECRET_ACCESS_KEY?: string;

  @IsOptional() @IsUrlWithScheme(['http', 'https'], { message: 'AWS_ENDPOINT_URL must be an http:// or https:// URL' })
  AWS_ENDPOINT_URL?: string;

  @IsOptional() @IsUrlWithScheme(['http', 'https'], { message: 'AWS_ENDPOINT_URL_SNS must be an http:// or https:// URL' })
  AWS_ENDPOINT_URL_SNS?: string;

  @IsOptional() @IsUrlWithScheme(['http', 'https'], { message: 'AWS_ENDPOINT_URL_SES must be an http:// or https:// URL' })
  AWS_ENDPOINT_URL_SES?: string;

  @IsOptional() @Matches(SENDER_ADDRESS, { message: 'SES_FROM must be an email address, optionally as "Name <address>"' })
  SES_FROM?: string;

  @IsOptional() @Matches(/^SG\.[\w-]{10,}\.[\w-]{10,}$/, { message: 'SENDGRID_API_KEY must be a SendGrid API key (SG.xxx.yyy)' })
  SENDGRID_API_KEY?: string;

  @IsOptional() @Matches(SENDER_ADDRESS, { message: 'SENDGRID_FROM must be an email address, optionally as "Name <address>"' })
  SENDGRID_FROM?: string;

  @IsOptional() @IsUrlWithScheme(['http', 'https'], { message: 'SENDGRID_API_BASE_URL must be an http:// or https:// URL' })
  SENDGRID_API_BASE_URL?: string;
}

export { E164 };
