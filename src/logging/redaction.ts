import type { LoadedConfiguration } from '../config/configuration.types.js';
import { SECRET_VARIABLES, VARIABLES } from '../config/variables.js';

export const REDACTED = '[REDACTED]';

/** Field names whose value is a credential or a code wherever they appear in a logged object. */
export const SENSITIVE_FIELDS: readonly string[] = [
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'code',
  'otp',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'api_key',
  'secret',
  'clientSecret',
  'authToken',
  'secretAccessKey',
  'authorization',
  'cookie',
  'sealed',
];

/**
 * How errors name themselves under `code` (ECONNREFUSED, EAUTH, ERR_SOCKET_CLOSED, OTP_INCORRECT): an
 * upper-case identifier, which a one-time code never is.
 */
const ERROR_IDENTIFIER = /^[A-Z][A-Z0-9_]{2,63}$/;

/**
 * What a redacted value becomes. A field named `code` keeps an error identifier, so a logged
 * error still says ECONNREFUSED or EAUTH (what operators look for when nothing arrives); anything
 * else under `code`, digits above all, is a one-time code and is replaced.
 */
export function censor(value: unknown, path: string[]): unknown {
  if (path.at(-1) === 'code' && typeof value === 'string' && ERROR_IDENTIFIER.test(value)) return value;
  return REDACTED;
}

/** Headers that carry credentials, as Node names them (lower case). */
export const SENSITIVE_HEADERS: readonly string[] = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization'];

/** Values shorter than this are not scrubbed by value: they would blank out ordinary words and numbers. */
export const MIN_SCRUBBED_LENGTH = 4;

const pathPart = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);

/**
 * pino `redact` paths: the sensitive fields at the top of a line and one or two objects down
 * (`body.password`, `req.body.password`), and the credential headers of requests and responses.
 */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SENSITIVE_FIELDS) {
    const part = pathPart(field);
    paths.push(part.startsWith('.') ? field : part, `*${part}`, `*.*${part}`);
  }
  for (const header of SENSITIVE_HEADERS) {
    for (const holder of ['headers', 'req.headers', 'res.headers', 'request.headers', 'response.headers'])
      paths.push(`${holder}${pathPart(header)}`);
  }
  return paths;
}

const REDACTED_NAMES = new Set([...SENSITIVE_FIELDS, ...SENSITIVE_HEADERS]);

const isPlainData = (value: object) => {
  if (Array.isArray(value)) return true;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
};

/**
 * Whether the redaction paths could change this logged object: a sensitive name among the keys of
 * the three levels they reach, or a value that is not plain data (an error, a class instance)
 * whose logged form is not judged here. False means redacting would leave the object as it is.
 */
export function mayNeedPathRedaction(fields: object, depth = 0): boolean {
  for (const key in fields) {
    if (REDACTED_NAMES.has(key)) return true;
    const value = (fields as Record<string, unknown>)[key];
    if (typeof value !== 'object' || value === null) continue;
    if (!isPlainData(value)) return true;
    if (depth < 2 && mayNeedPathRedaction(value, depth + 1)) return true;
  }
  return false;
}

/**
 * Every secret value this process knows: each variable marked secret (and each entry of the
 * comma-separated ones, and each code of OTP_TEST_DESTINATIONS), the credentials inside connection
 * URLs, and the secrets the configuration generated for this run.
 */
export function secretValues(loaded: {
  variables: Record<string, string | undefined>;
  configuration?: LoadedConfiguration['configuration'];
}): string[] {
  const values = new Set<string>();
  const add = (value: string | undefined) => {
    if (value === undefined) return;
    const trimmed = value.trim();
    if (trimmed.length >= MIN_SCRUBBED_LENGTH) values.add(trimmed);
    if (value.length >= MIN_SCRUBBED_LENGTH) values.add(value);
  };
  for (const name of SECRET_VARIABLES) {
    const value = loaded.variables[name];
    if (!value) continue;
    add(value);
    for (const entry of value.split(',')) {
      add(entry);
      if (name === 'OTP_TEST_DESTINATIONS') add(entry.slice(entry.lastIndexOf(':') + 1));
    }
  }
  for (const { name } of VARIABLES.filter((variable) => variable.url)) {
    const value = loaded.variables[name];
    if (!value) continue;
    for (const credential of urlCredentials(value)) add(credential);
  }
  if (loaded.configuration) {
    const { auth, otp } = loaded.configuration;
    add(auth.jwtSecret);
    // The signing key (a generated one too), whole and each line of its body: a log line may hold a part of it.
    add(auth.jwtPrivateKey);
    for (const line of auth.jwtPrivateKey?.split('\n') ?? []) if (!line.startsWith('-----')) add(line);
    // The generated development key is printed on purpose (the start-up report shows it to copy).
    for (const key of auth.apiKeys) if (!key.generated) add(key.key);
    add(otp.secret);
    for (const code of Object.values(otp.testDestinations)) add(code);
    add(otp.fixedCode);
  }
  // Longest first, so a value that contains another is replaced whole.
  return [...values].sort((a, b) => b.length - a.length);
}

/**
 * The password of a connection URL (Redis takes a lone user name as the password), and any
 * credential passed as a query parameter. User names are not secret, and hiding one as common as
 * `postgres` would blank out ordinary words.
 */
function urlCredentials(value: string): string[] {
  try {
    const url = new URL(value);
    const parts: string[] = [];
    if (url.password) parts.push(url.password);
    else if (url.username && url.protocol.startsWith('redis')) parts.push(url.username);
    for (const [key, parameter] of url.searchParams)
      if (/pass|secret|token|key/i.test(key) && parameter) parts.push(encodeURIComponent(parameter), parameter);
    return [...parts, ...parts.map((part) => safeDecode(part))];
  } catch {
    // Not a URL the service could use either; the whole value is the safest thing to hide.
    return [value];
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replaces each secret value wherever it appears inside one serialized JSON log line: in the
 * message, an error's message or stack, any field. Values are matched as JSON writes them (quotes
 * and backslashes escaped); the JSON escape sequences of the line are stepped over whole, so a
 * replacement never cuts one in half and the line stays valid JSON.
 */
export function createLineScrubber(secrets: readonly string[]): (line: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SCRUBBED_LENGTH) continue;
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  if (forms.size === 0) return (line) => line;
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(${alternatives.join('|')})|\\\\(?:u[0-9a-fA-F]{4}|.)`, 'g');
  return (line) => line.replace(pattern, (match, secret: string | undefined) => (secret === undefined ? match : REDACTED));
}
