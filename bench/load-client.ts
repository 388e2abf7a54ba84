import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
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
  /** With `rate`: answers later than this after their request was due are counted, and the runs they come in (`LoadResult.late`). */
  lateMs?: number;
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
  late?: LateAnswers;
  /** The load client's own CPU time over the run (user + system, all its threads), in ms. */
  cpuMs: number;
}

/**
 * The answers that came later than `thresholdMs` after their request was due, and how they bunch: a run is late
 * requests one after another in the order they were due, and lasts from the first one's due time to the last
 * answer among them. A p99 over the threshold can be a few requests caught by one pause, or a server that fell
 * behind its load for a while; the count and the longest run tell which.
 */
export interface LateAnswers {
  thresholdMs: number;
  count: number;
  runs: number;
  longestRunMs: number;
}

export function lateAnswers(dues: ArrayLike<number>, latencies: ArrayLike<number>, thresholdMs: number): LateAnswers {
  const order = Array.from({ length: latencies.length }, (_, i) => i).sort((a, b) => dues[a]! - dues[b]!);
  const late: LateAnswers = { thresholdMs, count: 0, runs: 0, longestRunMs: 0 };
  let runStart: number | undefined;
  let runEnd = 0;
  for (const i of order) {
    const due = dues[i]!;
    const answeredAt = due + latencies[i]!;
    if (latencies[i]! <= thresholdMs) {
      runStart = undefined;
      continue;
    }
    late.count += 1;
    if (runStart === undefined) {
      runStart = due;
      runEnd = answeredAt;
      late.runs += 1;
    } else runEnd = Math.max(runEnd, answeredAt);
    late.longestRunMs = Math.max(late.longestRunMs, runEnd - runStart);
  }
  return late;
}

interface Context {
  to?: string;
  expected?: number;
}

/** What one job sends: its route, and per request a body, the status expected and what to keep of the answer. */
interface Plan {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** The next request's body and context; `undefined` body for a GET. */
  next(): { body?: string; context: Context };
  expected(context: Context): number;
  answered?(status: number, body: string, context: Context): void;
  /** Requests in all (one per target), else the job runs for its duration. */
  amount?: number;
}

interface Tally {
  statuses: Record<string, number>;
  created: [string, string][];
  unexpected: number;
  sequence: number;
}

function planOf(job: LoadJob, tally: Tally): Plan {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (job.kind === 'send' || job.kind === 'check') headers['x-api-key'] = job.apiKey;
  const created = (status: number, expected: number, body: string, context: Context, idField: 'id' | 'challengeId') => {
    if (status === expected) tally.created.push([context.to!, (JSON.parse(body) as Record<string, string>)[idField]!]);
  };

  switch (job.kind) {
    case 'live':
      return { method: 'GET', path: '/health/live', headers: {}, next: () => ({ context: {} }), expected: () => 200, amount: job.amount };
    case 'send':
      return {
        method: 'POST',
        path: '/v1/verifications',
        headers,
        // A new destination every time: per-destination send limits never come into play, as with real traffic.
        next: () => {
          const n = tally.sequence++;
          const to = job.sms
            ? `+447400${String((job.sms.first + n) % 1_000_000).padStart(6, '0')}`
            : `${job.prefix}-${n}@bench.example.com`;
          return { body: JSON.stringify({ channel: job.sms ? 'sms' : 'email', to }), context: { to } };
        },
        expected: () => 201,
        answered: (status, body, context) => created(status, 201, body, context, 'id'),
        amount: job.amount,
      };
    case 'otp-start':
      return {
        method: 'POST',
        path: '/v1/auth/otp/start',
        headers,
        // A seeded account of its own per request, so no per-destination limit or cooldown binds.
        next: () => {
          const to = accountEmail(job.first + tally.sequence++);
          return { body: JSON.stringify({ identifier: to, purpose: 'login' }), context: { to } };
        },
        expected: () => 202,
        answered: (status, body, context) => created(status, 202, body, context, 'challengeId'),
        amount: job.amount,
      };
    case 'otp-verify':
      return {
        method: 'POST',
        path: '/v1/auth/otp/verify',
        headers,
        // Each challenge once, with its code: every request is a sign-in that issues a token pair.
        next: () => {
          const target = job.targets[tally.sequence++ % job.targets.length]!;
          return { body: JSON.stringify({ challengeId: target.challengeId, code: target.code }), context: {} };
        },
        expected: () => 200,
        amount: job.targets.length,
      };
    case 'check':
      return {
        method: 'POST',
        path: '/v1/verifications/check',
        headers,
        // Each verification is checked once, so every check is a real first answer (approve or count a miss).
        next: () => {
          const target = job.targets[tally.sequence++ % job.targets.length]!;
          return { body: JSON.stringify({ id: target.id, code: target.code }), context: { expected: target.right ? 200 : 422 } };
        },
        expected: (context) => context.expected!,
        amount: job.targets.length,
      };
  }
}

export function run(job: LoadJob): Promise<LoadResult> {
  const cpuAtStart = process.cpuUsage();
  const tally: Tally = { statuses: {}, created: [], unexpected: 0, sequence: 0 };
  const plan = planOf(job, tally);
  const count = (status: number, body: string, context: Context) => {
    tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
    if (status !== plan.expected(context)) tally.unexpected += 1;
    plan.answered?.(status, body, context);
  };
  const finish = (figures: Figures): LoadResult => {
    const requests = Object.values(tally.statuses).reduce((sum, n) => sum + n, 0);
    return {
      requests,
      ...figures,
      requestsPerSecond: requests / figures.durationSeconds,
      statuses: tally.statuses,
      unexpected: tally.unexpected,
      created: job.kind === 'send' || job.kind === 'otp-start' ? tally.created : undefined,
      used: tally.sequence,
      cpuMs: cpuMsSince(cpuAtStart),
    };
  };
  return job.rate === undefined ? saturate(job, plan, count, finish) : paced(job, job.rate, plan, count, finish);
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

type Count = (status: number, body: string, context: Context) => void;
type Figures = { durationSeconds: number; p50: number; p99: number; errors: number; timeouts: number; late?: LateAnswers };
type Finish = (figures: Figures) => LoadResult;

/**
 * As fast as the server answers: autocannon, each connection sending its next request when the last is answered.
 * A run of a fixed number of requests lasts until its last answer: autocannon reports one only at its next
 * one-second tick, so its own duration would add up to a second of idle time to the run, and lower its
 * requests per second by as much.
 */
function saturate(job: LoadJob, plan: Plan, count: Count, finish: Finish): Promise<LoadResult> {
  const started = performance.now();
  let lastAnswer = started;
  const request = {
    method: plan.method,
    path: plan.path,
    headers: plan.headers,
    setupRequest: (req: autocannon.Request, context: Context) => {
      const { body, context: own } = plan.next();
      Object.assign(context, own);
      return body === undefined ? req : { ...req, body };
    },
    onResponse: (status: number, body: string, context: Context) => {
      lastAnswer = performance.now();
      count(status, body, context);
    },
  } as autocannon.Request;
  const options: autocannon.Options = {
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    timeout: 10,
    requests: [request],
    ...(plan.amount !== undefined ? { amount: plan.amount } : { duration: job.durationSeconds }),
  };
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => {
      if (error) return reject(error);
      resolve(
        finish({
          durationSeconds: plan.amount !== undefined ? Math.max(1, lastAnswer - started) / 1000 : result.duration,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.errors,
          timeouts: result.timeouts,
        }),
      );
    });
  });
}

/**
 * At a fixed rate, open loop: request `i` is due at `i / rate` seconds from the start whether or not earlier ones
 * were answered, and its latency is counted from when it was due (so a stall delays, and is charged to, every request
 * behind it, as wrk2 counts). autocannon's `overallRate` is not used for this: it sends each connection's quota for a
 * second back to back at the start of that second, so what it measures is latency at saturation in bursts.
 *
 * The requests go out on plain keep-alive sockets (`PacedConnection`), not through `node:http`: the client's own
 * work is charged to every latency it measures, and it shares the machine's cores with the server: these sockets
 * cost about half its CPU per request, and took a median of 17 ms off the floor's p99 at half its capacity (the
 * README's benchmark section gives the figures).
 */
function paced(job: LoadJob, rate: number, plan: Plan, count: Count, finish: Finish): Promise<LoadResult> {
  const origin = new URL(job.url);
  const head = requestHead(plan, origin.host);
  const total = plan.amount ?? Math.round(rate * (job.durationSeconds ?? 10));
  const latencies = new Float64Array(total);
  const dues = new Float64Array(total);
  const idle: PacedConnection[] = [];
  const open = new Set<PacedConnection>();
  /** Requests due while every connection was busy, oldest first; their latency runs from when they were due. */
  const waiting: PacedRequest[] = [];
  let answered = 0;
  let issued = 0;
  let errors = 0;
  let timeouts = 0;
  const start = performance.now();

  return new Promise((resolve) => {
    const done = () => {
      for (const connection of open) connection.close();
      const measured = latencies.slice(0, answered).sort();
      const at = (p: number) =>
        measured.length === 0 ? 0 : measured[Math.min(measured.length - 1, Math.floor((p / 100) * measured.length))]!;
      const round = (ms: number) => Math.round(ms * 100) / 100;
      const late =
        job.lateMs === undefined ? undefined : lateAnswers(dues.subarray(0, answered), latencies.subarray(0, answered), job.lateMs);
      resolve(
        finish({ durationSeconds: (performance.now() - start) / 1000, p50: round(at(50)), p99: round(at(99)), errors, timeouts, late }),
      );
    };
    const settle = () => {
      if (answered + errors + timeouts === total) done();
    };
    const nextFor = (connection: PacedConnection) => {
      const next = waiting.shift();
      if (next) connection.send(next);
      else idle.push(connection);
    };
    const events: PacedEvents = {
      answered: (connection, request, status, body) => {
        dues[answered] = request.due;
        latencies[answered++] = performance.now() - request.due;
        count(status, body, request.context);
        settle();
        nextFor(connection);
      },
      failed: (connection, request, timedOut) => {
        open.delete(connection);
        const at = idle.indexOf(connection);
        if (at >= 0) idle.splice(at, 1);
        if (request) {
          if (timedOut) timeouts += 1;
          else errors += 1;
          settle();
          // What waits behind it gets a connection of its own, as it would have had one free.
          if (waiting.length > 0) nextFor(connect());
        }
      },
    };
    const connect = () => {
      const connection = new PacedConnection(origin, events);
      open.add(connection);
      return connection;
    };
    const send = (due: number) => {
      const { body, context } = plan.next();
      const request: PacedRequest = { due, context, bytes: head(body) };
      const connection = idle.pop() ?? (open.size < job.connections ? connect() : undefined);
      if (connection) connection.send(request);
      else waiting.push(request);
    };
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
      while (issued < due) send(start + (issued++ * 1000) / rate);
      if (issued < total) setTimeout(tick, Math.max(0, start + (issued * 1000) / rate - performance.now()));
    };
    tick();
  });
}

interface PacedRequest {
  /** When it was due (performance.now()), which its latency is counted from. */
  due: number;
  context: Context;
  bytes: string;
}

interface PacedEvents {
  answered(connection: PacedConnection, request: PacedRequest, status: number, body: string): void;
  /** The connection is gone: reset, closed, an answer it could not read, or no answer in 10 s. */
  failed(connection: PacedConnection, request: PacedRequest | undefined, timedOut: boolean): void;
}

/** The request line and headers of `plan`'s route, ready to be followed by each request's body. */
function requestHead(plan: Plan, host: string): (body: string | undefined) => string {
  const fixed = `${plan.method} ${plan.path} HTTP/1.1\r\nhost: ${host}\r\n${Object.entries(plan.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}`;
  return (body) => (body === undefined ? `${fixed}\r\n` : `${fixed}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * One keep-alive HTTP/1.1 connection carrying one request at a time. It reads only what the benchmark needs of an
 * answer: the status and a `content-length` body (which is how the servers measured here answer). Anything else
 * (a chunked answer, a closed connection, no answer within 10 s) fails the request in flight and drops the connection.
 */
class PacedConnection {
  private readonly socket: Socket;
  private inFlight: PacedRequest | undefined;
  /** Bytes of the answer so far, as latin1 so that a length in bytes is a length in characters. */
  private received = '';
  private gone = false;

  constructor(
    origin: URL,
    private readonly events: PacedEvents,
  ) {
    this.socket = connect({ host: origin.hostname, port: Number(origin.port), noDelay: true });
    this.socket.setEncoding('latin1');
    this.socket.setTimeout(10_000, () => this.fail(true));
    this.socket.on('data', (chunk: string) => this.read(chunk));
    this.socket.on('error', () => this.fail(false));
    this.socket.on('close', () => this.fail(false));
  }

  send(request: PacedRequest): void {
    this.inFlight = request;
    this.socket.write(request.bytes);
  }

  close(): void {
    this.gone = true;
    this.socket.destroy();
  }

  private read(chunk: string): void {
    this.received += chunk;
    const headEnd = this.received.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.received.slice(0, headEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const request = this.inFlight;
    if (!length || !request || /\r\ntransfer-encoding:/i.test(head)) return this.fail(false);
    const bodyEnd = headEnd + 4 + Number(length[1]);
    if (this.received.length < bodyEnd) return;
    const body = Buffer.from(this.received.slice(headEnd + 4, bodyEnd), 'latin1').toString('utf8');
    this.received = this.received.slice(bodyEnd);
    this.inFlight = undefined;
    this.events.answered(this, request, Number(head.slice(9, 12)), body);
  }

  private fail(timedOut: boolean): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.destroy();
    const request = this.inFlight;
    this.inFlight = undefined;
    this.events.failed(this, request, timedOut);
  }
}

// Only as the forked load client: imported (by its test), this module must not take its host's IPC messages.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.once('message', (job: LoadJob) => {
    run(job).then(
      (result) => process.send!(result, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
