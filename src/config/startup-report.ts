import {
  type ApiKeyScope,
  CHANNELS,
  type FraudConfig,
  type LoadedConfiguration,
  type ProviderId,
  type RedisConfig,
  type RedisNode,
} from './configuration.types.js';
import { VARIABLES } from './variables.js';

/** `****(16)`: enough to tell a value is set and roughly which one, nothing to recover it from. */
export function maskSecret(value: string): string {
  return `****(${value.length})`;
}

/** Shows scheme, host, port and path of a connection URL; user names and passwords are masked. */
export function maskUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.username) url.username = maskSecret(decodeURIComponent(url.username));
    if (url.password) url.password = maskSecret(decodeURIComponent(url.password));
    url.search = url.search ? '?****' : '';
    return decodeURIComponent(url.toString());
  } catch {
    return maskSecret(value);
  }
}

export function displayValue(name: string, value: string): string {
  const descriptor = VARIABLES.find((v) => v.name === name);
  if (descriptor?.secret) return maskSecret(value);
  if (descriptor?.url) return maskUrl(value);
  return value;
}

/**
 * The report an operator reads at start-up: mode, stores, each enabled channel's chain with every
 * provider's state (with the start-up probe's result when given), then every variable in effect with
 * secrets masked. One string per log line.
 */
export function buildStartupReport(loaded: LoadedConfiguration, probes?: ProbeResults): string[] {
  const { app, redis, database, auth, otp, messaging } = loaded.configuration;
  const lines: string[] = [];
  lines.push(`${app.name} ${app.version} (commit ${app.commit}) in ${app.env} mode`);
  lines.push(storeLine(redis, messaging.delivery.worker));
  lines.push(
    database.url
      ? `database: PostgreSQL at ${maskUrl(database.url)}`
      : `database: embedded PostgreSQL (PGlite) ${database.embeddedDir ? `in ${database.embeddedDir}` : 'in memory'}`,
  );
  for (const channel of CHANNELS) {
    if (!messaging.channels.includes(channel)) {
      lines.push(`channel ${channel}: disabled`);
      continue;
    }
    const chain = messaging.chains[channel].map((id, index) => `${index + 1}. ${id} (${providerState(loaded, id, probes)})`);
    lines.push(`channel ${channel}: ${chain.length > 0 ? chain.join(' -> ') : 'no provider'}`);
  }
  lines.push(
    `codes: ${otp.length} digits, valid ${otp.ttlSeconds}s, ${otp.maxAttempts} attempts, ${otp.maxSends} sends; ` +
      `per destination ${otp.maxSendsPerHour}/hour ${otp.maxSendsPerDay}/day, ${otp.resendCooldownSeconds}s cooldown; ` +
      `per IP ${otp.rateLimitIpPerMinute}/minute, per API key ${otp.apiKeyRateLimitPerMinute}/minute`,
  );
  const keysOf = (scope: ApiKeyScope) => {
    const keys = auth.apiKeys.filter((key) => key.scope === scope && !key.generated);
    return keys.length > 0 ? keys.map((key) => `${key.name}:${maskSecret(key.key)}`).join(',') : 'unset';
  };
  lines.push(
    `sessions: end after ${auth.sessions.refreshTokenTtlDays} days unused (REFRESH_TOKEN_TTL_DAYS) ` +
      `or ${auth.sessions.maxDays} days after sign-in (SESSION_MAX_DAYS), whichever comes first`,
  );
  lines.push(
    `passwords: ${otp.loginMaxFailures} wrong per identifier per 15 minutes, then LOGIN_RATE_LIMITED; ` +
      `${otp.passwordHashConcurrency} hashed at once, SERVICE_BUSY after 2 s waiting`,
  );
  lines.push(
    `phone numbers: codes go to ${otp.smsAllowedNumberTypes.join(', ')} numbers ` +
      (otp.smsAllowedCountries ? `in ${otp.smsAllowedCountries.join(', ')}` : 'in every country') +
      ' (SMS_ALLOWED_NUMBER_TYPES, SMS_ALLOWED_COUNTRIES)',
  );
  lines.push(fraudGuardLine(otp.fraud));
  lines.push(
    `secrets: JWT_SECRET=${auth.jwtSecretGenerated ? 'random for this run' : maskSecret(auth.jwtSecret)} ` +
      `OTP_SECRET=${otp.secretGenerated ? 'random for this run' : maskSecret(otp.secret)} ` +
      `API_KEYS=${keysOf('application')} ADMIN_API_KEYS=${keysOf('admin')}` +
      (keysOf('admin') === 'unset' ? ' (/v1/admin answers 401)' : ''),
  );
  // Development only, and meant to be copied: the README's first curl sends it.
  const generated = auth.apiKeys.find((key) => key.generated);
  if (generated) {
    lines.push(`development API key (API_KEYS is not set; kept in ${auth.developmentKeyFile}, send it as X-Api-Key): ${generated.key}`);
  }
  const settings = VARIABLES.filter(
    (v) => loaded.variables[v.name] !== undefined && !['JWT_SECRET', 'OTP_SECRET', 'API_KEYS', 'ADMIN_API_KEYS'].includes(v.name),
  ).map((v) => `${v.name}=${displayValue(v.name, loaded.variables[v.name]!)}`);
  lines.push(`settings: ${settings.join(' ')}`);
  return lines;
}

/** What the fraud guard refuses and when it suspends, in the words of its variables; "off" when it checks nothing. */
function fraudGuardLine(fraud: FraudConfig): string {
  const cap = (count: number | undefined) => (count ? `${count}/hour` : 'no cap');
  const caps = (entries: Readonly<Record<string, number>>) =>
    Object.keys(entries).length > 0
      ? Object.entries(entries)
          .map(([key, count]) => `${key === '*' ? 'others' : key} ${cap(count)}`)
          .join(', ')
      : 'no cap';
  const capsSet = fraud.prefixPerHour > 0 || Object.values(fraud.countryPerHour).some((count) => count > 0);
  const channels = Object.values(fraud.channelPerHour).some((count) => count > 0);
  if (!capsSet && !channels && fraud.minConversion === 0) return 'fraud guard: off (no cap, FRAUD_MIN_CONVERSION=0)';
  const suspension =
    fraud.minConversion > 0
      ? `a country is suspended for ${fraud.suspendMinutes} minutes when, of at least ${fraud.minSample} codes sent there in ` +
        `the last hour ` +
        `${fraud.graceSeconds} s ago or more, under ${fraud.minConversion * 100}% were approved`
      : 'no automatic suspension (FRAUD_MIN_CONVERSION=0)';
  return (
    `fraud guard: per number prefix ${cap(fraud.prefixPerHour)}; per country ${caps(fraud.countryPerHour)}; ` +
    `per channel ${caps(fraud.channelPerHour)}; ${suspension} ` +
    '(SMS_MAX_SENDS_PER_PREFIX_PER_HOUR, SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR, OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR, FRAUD_*)'
  );
}

function storeLine(redis: RedisConfig, worker: boolean): string {
  const what = 'store: OTP state, rate limits and delivery queue in';
  const delivery = worker ? 'delivered by this process' : 'NOT delivered by this process (DELIVERY_WORKER=false)';
  if (redis.clusterNodes) {
    const count = redis.clusterNodes.length;
    return `${what} Redis Cluster (${count} seed${count === 1 ? '' : 's'}: ${hostPorts(redis.clusterNodes)}), ${delivery}`;
  }
  if (redis.sentinels) {
    const count = redis.sentinels.length;
    const sentinels = `${count} Sentinel${count === 1 ? '' : 's'}: ${hostPorts(redis.sentinels)}`;
    return `${what} the Redis master "${redis.sentinelName}" found through Sentinel (${sentinels}), ${delivery}`;
  }
  if (redis.url) return `${what} Redis at ${maskUrl(redis.url)}, ${delivery}`;
  return 'store: OTP state and rate limits in memory, delivery in-process (embedded mode: one process only)';
}

/** `host:port, …`, an IPv6 host in brackets. */
function hostPorts(nodes: RedisNode[]): string {
  return nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(', ');
}

/** By provider, the start-up probe's outcome: null when it answered, else why not (`probe failed: …`). */
export type ProbeResults = Partial<Record<ProviderId, string | null>>;

function providerState(loaded: LoadedConfiguration, id: ProviderId, probes: ProbeResults | undefined): string {
  const state = loaded.configuration.messaging.providers[id];
  if (!state.allowed) return 'not allowed in production';
  if (!state.configured) return `missing ${state.missing.join(', ')}`;
  if (id === 'console') return 'configured: prints codes to the log';
  const probe = probes?.[id];
  if (probe === undefined) return 'configured';
  return probe === null ? 'configured, probe passed' : `configured, ${probe}`;
}
