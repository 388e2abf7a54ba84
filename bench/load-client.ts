import autocannon from 'autocannon';

/**
 * The load generator, forked by `run.ts` so that autocannon never shares an event loop (or a
 * profile) with anything it measures. It gets one job over IPC, runs it, and answers with the
 * numbers and whatever the run produced (verification ids of sends).
 */

export type LoadJob =
  | { kind: 'live'; url: string; connections: number; durationSeconds: number }
  | { kind: 'send'; url: string; connections: number; durationSeconds: number; apiKey: string; prefix: string; sms?: SmsNumbers }
  | { kind: 'check'; url: string; connections: number; apiKey: string; targets: CheckTarget[] };

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
  /** Sends only: [destination, verification id] of every 201. */
  created?: [string, string][];
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
  if (job.kind !== 'live') headers['x-api-key'] = job.apiKey;

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
    ...(job.kind === 'check' ? { amount: job.targets.length } : { duration: job.durationSeconds }),
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
        created: job.kind === 'send' ? created : undefined,
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
