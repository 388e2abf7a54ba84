import autocannon from 'autocannon';

/**
 * The load generator, forked by `run.ts` so that autocannon never shares an event loop (or a
 * profile) with anything it measures. It gets one job over IPC, runs it, and answers with the
 * numbers and whatever the run produced (verification ids of sends).
 */

/**
 * Where and how hard: for `durationSeconds` or until `amount` requests were made (checks and sign-ins
 * make one per target), as fast as the server answers or, with `rate`, at that many requests per second
 * over all connections.
 */
interface Load {
  url: string;
  connections: number;
  durationSeconds?: number;
  amount?: number;
  rate?: number;
}

export type LoadJob = Load &
  (
    | { kind: 'live' }
    | { kind: 'send'; apiKey: string; prefix: string; sms?: SmsNumbers }
    | { kind: 'check'; apiKey: string; targets: CheckTarget[] }
    | { kind: 'otp-start'; first: number }
    | { kind: 'otp-verify'; targets: SignInTarget[] }
  );

/** The email address of the benchmark's account number `n`; the benchmark seeds them as `ACCOUNT_PREFIX || n || ACCOUNT_DOMAIN`. */
export const ACCOUNT_PREFIX = 'bench-account-';
export const ACCOUNT_DOMAIN = '@bench.example.com';
export const accountEmail = (n: number): string => `${ACCOUNT_PREFIX}${n}${ACCOUNT_DOMAIN}`;

/** SMS sends instead of email: GB mobile numbers from +447400 000000 + `first` on, a new one per send, as with email. */
export interface SmsNumbers {
  first: number;
}

/** One verification and the code to present: its real one (expect 200) or a wrong one (expect 422). */
export interface CheckTarget {
  id: string;
  code: string;
  right: boolean;
}

/** A passwordless login's challenge and the code its email carried. */
export interface SignInTarget {
  challengeId: string;
  code: string;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Responses by status code; anything not expected for the route is reported beside the numbers. */
  statuses: Record<string, number>;
  unexpected: number;
  errors: number;
  timeouts: number;
  /** Sends and otp/start: [destination, verification or challenge id] of every success. */
  created?: [string, string][];
  /** Destinations or accounts the run took, answered or not: the next run starts past them. */
  used: number;
}

interface Context {
  to?: string;
  expected?: number;
}

function run(job: LoadJob): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  const created: [string, string][] = [];
  let unexpected = 0;
  let sequence = 0;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (job.kind === 'send' || job.kind === 'check') headers['x-api-key'] = job.apiKey;

  const count = (status: number, expected: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status !== expected) unexpected += 1;
  };

  let request: autocannon.Request;
  if (job.kind === 'live') {
    request = { method: 'GET', path: '/health/live', onResponse: (status: number) => count(status, 200) };
  } else if (job.kind === 'send') {
    request = {
      method: 'POST',
      path: '/v1/verifications',
      headers,
      // A new destination every time: per-destination send limits never come into play, as with real traffic.
      setupRequest: (req: autocannon.Request, context: Context) => {
        const n = sequence++;
        context.to = job.sms
          ? `+447400${String((job.sms.first + n) % 1_000_000).padStart(6, '0')}`
          : `${job.prefix}-${n}@bench.example.com`;
        return { ...req, body: JSON.stringify({ channel: job.sms ? 'sms' : 'email', to: context.to }) };
      },
      onResponse: (status: number, body: string, context: Context) => {
        count(status, 201);
        if (status === 201) created.push([context.to!, (JSON.parse(body) as { id: string }).id]);
      },
    } as autocannon.Request;
  } else if (job.kind === 'otp-start') {
    const first = job.first;
    request = {
      method: 'POST',
      path: '/v1/auth/otp/start',
      headers,
      // A seeded account of its own per request, so no per-destination limit or cooldown binds.
      setupRequest: (req: autocannon.Request, context: Context) => {
        context.to = accountEmail(first + sequence++);
        return { ...req, body: JSON.stringify({ identifier: context.to, purpose: 'login' }) };
      },
      onResponse: (status: number, body: string, context: Context) => {
        count(status, 202);
        if (status === 202) created.push([context.to!, (JSON.parse(body) as { challengeId: string }).challengeId]);
      },
    } as autocannon.Request;
  } else if (job.kind === 'otp-verify') {
    const targets = job.targets;
    request = {
      method: 'POST',
      path: '/v1/auth/otp/verify',
      headers,
      // Each challenge once, with its code: every request is a sign-in that issues a token pair.
      setupRequest: (req: autocannon.Request) => {
        const target = targets[sequence++ % targets.length]!;
        return { ...req, body: JSON.stringify({ challengeId: target.challengeId, code: target.code }) };
      },
      onResponse: (status: number) => count(status, 200),
    } as autocannon.Request;
  } else {
    const targets = job.targets;
    request = {
      method: 'POST',
      path: '/v1/verifications/check',
      headers,
      // Each verification is checked once, so every check is a real first answer (approve or count a miss).
      setupRequest: (req: autocannon.Request, context: Context) => {
        const target = targets[sequence++ % targets.length]!;
        context.expected = target.right ? 200 : 422;
        return { ...req, body: JSON.stringify({ id: target.id, code: target.code }) };
      },
      onResponse: (status: number, _body: string, context: Context) => count(status, context.expected!),
    } as autocannon.Request;
  }

  const options: autocannon.Options = {
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    timeout: 10,
    requests: [request],
    ...(job.kind === 'check' || job.kind === 'otp-verify'
      ? { amount: job.targets.length }
      : job.amount !== undefined
        ? { amount: job.amount }
        : { duration: job.durationSeconds }),
    ...(job.rate !== undefined ? { overallRate: job.rate } : {}),
  };
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => {
      if (error) return reject(error);
      const requests = Object.values(statuses).reduce((sum, n) => sum + n, 0);
      resolve({
        requests,
        durationSeconds: result.duration,
        requestsPerSecond: requests / result.duration,
        p50: result.latency.p50,
        p99: result.latency.p99,
        statuses,
        unexpected,
        errors: result.errors,
        timeouts: result.timeouts,
        created: job.kind === 'send' || job.kind === 'otp-start' ? created : undefined,
        used: sequence,
      });
    });
  });
}

process.once('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send!(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
