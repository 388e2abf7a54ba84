import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { localProduction } from '../test/support/environments.js';
import { FakeTwilio } from '../test/support/fake-twilio.js';
import { RedisServer } from '../test/support/redis-server.js';
import { createScratchPostgresDatabase } from '../test/support/scratch-postgres.js';
import { BASELINE_QUEUE } from './baseline-server.js';
import type { CheckTarget, LoadJob, LoadResult, SmsNumbers } from './load-client.js';
import { SmtpSink } from './smtp-sink.js';

/**
 * `npm run bench`: the service as production runs it (built, NODE_ENV=production, its own Redis,
 * PostgreSQL, a real SMTP server and a fake Twilio) against a bare Fastify + ioredis baseline, both
 * loaded the same way by autocannon in a separate process; then SMS sends with the fraud guard off and
 * on, in the same run. Prints one table; writes nothing.
 *
 * BENCH_DURATION (seconds per timed phase, 10), BENCH_CONNECTIONS (50), BENCH_DATABASE_URL or
 * TEST_DATABASE_URL (a PostgreSQL server; a scratch database is created and dropped on it),
 * BENCH_CPU_PROF=1 (the service runs under --cpu-prof; profiles go to bench/results/), BENCH_NODE_ARGS
 * (more node flags for the service, e.g. --max-old-space-size=128), BENCH_DELIVERY=in-process (default: one
 * process answers and delivers, as a replica does by default) or separate (the measured API process runs with
 * DELIVERY_WORKER=false beside a worker process, as API and worker replicas would).
 */

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** bench/.build/bench/ → the repository. */
const ROOT = resolve(HERE, '../../..');
const MAIN_JS = join(ROOT, 'dist/main.js');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_SECONDS = 3;
const LATENCY_SENDS = 300;
const LATENCY_INTERVAL_MS = 20;
const API_KEY = 'bench-api-key-0123456789';
const POSTGRES = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? join(ROOT, 'bench/results') : undefined;
const SEPARATE_WORKER = process.env.BENCH_DELIVERY === 'separate';
/**
 * The worker replica's CPU priority. In a deployment it has CPU of its own; on one benchmark machine,
 * a lower priority stands in for that: it works on the queue with the CPU the API leaves over.
 */
const WORKER_NICENESS = 10;

/** A server under test, as its own process; everything it prints is kept for when it fails. */
class ServerProcess {
  private output = '';
  readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    // Only the last 64 KiB: the service logs a line per verification event, and this process must stay light.
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-65_536));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((done) => child.once('exit', () => done()));
  }

  static start(name: string, args: string[], env: Record<string, string>, cwd: string, niceness = 0): ServerProcess {
    const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (niceness !== 0) setPriority(child.pid!, niceness);
    return new ServerProcess(name, child);
  }

  async listening(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /Listening on (http:\/\/[^\s"]+)/.exec(this.output);
      if (match) return match[1]!;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`${this.name} did not start:\n${this.output}`);
      await sleep(50);
    }
  }

  /** VmHWM: the most resident memory the process ever had. */
  peakRssBytes(): number {
    const line = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    return Number(line?.[1] ?? 0) * 1024;
  }

  /** CPU time (user + system) the process has used so far, in ms; per request, it is steadier than req/s on a busy machine. */
  cpuMs(): number {
    const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  }

  rssBytes(): number {
    const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    return Number(line?.[1] ?? 0) * 1024;
  }

  /** SIGTERM, so a --cpu-prof profile gets written; SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A phase's numbers, with the server's CPU time per request over the phase. */
type Measured = LoadResult & { cpuMsPerRequest: number; cpuMsPerSendDelivered?: number };

interface TargetResult {
  live: Measured;
  send: Measured;
  check: Measured;
  peakRss: number;
  /** The separate delivery worker's, when there is one. */
  workerPeakRss?: number;
}

interface DeliveryResult {
  p50: number;
  p99: number;
  measured: number;
  sustainedPerSecond: number;
  burst: number;
  delivered: number;
}

async function main(): Promise<void> {
  const [redis, sink, twilio] = await Promise.all([RedisServer.start(), SmtpSink.start(), FakeTwilio.start()]);
  const database = await createScratchPostgresDatabase(POSTGRES, 'otp_bench');
  const scratch = mkdtempSync(join(tmpdir(), 'otp-gateway-bench-'));
  const admin = new Redis(redis.url);
  const servers: ServerProcess[] = [];
  try {
    note(`redis ${redis.url}, smtp 127.0.0.1:${sink.port}, twilio ${twilio.url}, postgres ${database.name}`);

    // The baseline first, alone on the machine; then the service, alone, on a flushed Redis.
    const baselineProcess = ServerProcess.start('baseline', [join(HERE, 'baseline-server.js')], { REDIS_URL: redis.url }, scratch);
    servers.push(baselineProcess);
    const baselineUrl = await baselineProcess.listening();
    const baseline = await measure('baseline', baselineProcess, baselineUrl, undefined, async () => {
      // Taken off the list, so each verification is checked once however often this is called.
      const [[, items]] = (await admin.multi().lrange(BASELINE_QUEUE, 0, -1).del(BASELINE_QUEUE).exec()) as [[null, string[]]];
      return items.map((item) => JSON.parse(item) as { id: string; code: string }).map(({ id, code }, i) => target(id, code, i));
    });
    baseline.peakRss = baselineProcess.peakRssBytes();
    await baselineProcess.stop();
    await admin.flushall();

    const serviceEnv: Record<string, string> = {
      ...localProduction({ redisUrl: redis.url, databaseUrl: database.url, smtp: sink, twilio }),
      SHUTDOWN_DRAIN_MS: '0',
      API_KEYS: API_KEY,
      // Every send goes to a new destination, so per-destination limits never bind; the per-IP limit
      // (one client address here) is raised to the top of its accepted range, far above what a run sends
      // in a minute. No TRUST_PROXY trick is needed, and the throttler still does its Redis work per request.
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
      // Wrong-code checks must stay "incorrect" rather than lock: each verification is checked once anyway.
      OTP_MAX_ATTEMPTS: '100',
    };
    const nodeArgs = [...imageNodeFlags(), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    note(`service node flags: ${nodeArgs.join(' ') || '(none)'}`);

    // The service's HTTP pipeline around routes that do no work, with the service's flags and configuration.
    const floorProcess = ServerProcess.start('floor', [...nodeArgs, join(HERE, 'framework-floor.js')], serviceEnv, scratch);
    servers.push(floorProcess);
    const floorUrl = await floorProcess.listening();
    const floor = await measure('floor', floorProcess, floorUrl, undefined, async (created) =>
      created.map(([, id]) => ({ id, code: '123456', right: true })),
    );
    floor.peakRss = floorProcess.peakRssBytes();
    await floorProcess.stop();

    const serviceArgs = [...nodeArgs, ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), MAIN_JS];
    if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
    const serviceProcess = ServerProcess.start(
      'service',
      serviceArgs,
      { ...serviceEnv, DELIVERY_WORKER: String(!SEPARATE_WORKER) },
      scratch,
    );
    servers.push(serviceProcess);
    const serviceUrl = await serviceProcess.listening();
    await waitUntil(async () => (await fetch(`${serviceUrl}/health/ready`)).status === 200, 30_000, 'the service to be ready');
    let workerProcess: ServerProcess | undefined;
    if (SEPARATE_WORKER) {
      note(
        `delivery: a worker process (DELIVERY_WORKER=true, nice ${WORKER_NICENESS}) beside the measured API process (DELIVERY_WORKER=false)`,
      );
      workerProcess = ServerProcess.start(
        'worker',
        [...nodeArgs, MAIN_JS],
        { ...serviceEnv, DELIVERY_WORKER: 'true' },
        scratch,
        WORKER_NICENESS,
      );
      servers.push(workerProcess);
      const workerUrl = await workerProcess.listening();
      await waitUntil(async () => (await fetch(`${workerUrl}/health/ready`)).status === 200, 30_000, 'the worker to be ready');
    }

    let sendCreated: [string, string][] = [];
    let sendStartedAt = 0;
    const service = await measure(
      'service',
      serviceProcess,
      serviceUrl,
      workerProcess,
      async (created) => {
        // Codes exist only in the messages: checks wait for every send to be delivered, so the check
        // phase measures checks of real, random codes, and no delivery work runs beside it.
        const delivered = await waitUntil(() => created.every(([to]) => sink.arrivals.has(to)), 180_000, 'every message to arrive', false);
        if (!delivered) note(`only ${created.filter(([to]) => sink.arrivals.has(to)).length} of ${created.length} messages arrived`);
        return created.flatMap(([to, id], i) => {
          const code = sink.arrivals.get(to)?.code;
          return code ? [target(id, code, i)] : [];
        });
      },
      (created, startedAt) => {
        sendCreated = created;
        sendStartedAt = startedAt;
      },
    );
    const delivery = await measureDelivery(serviceUrl, sink, sendCreated, sendStartedAt);
    service.peakRss = serviceProcess.peakRssBytes();
    service.workerPeakRss = workerProcess?.peakRssBytes();
    await Promise.all([serviceProcess.stop(), workerProcess?.stop()]);

    await admin.flushall();
    const guard = await measureFraudGuard(serviceEnv, nodeArgs, scratch, twilio, servers);

    printTable(service, baseline, floor, delivery, guard);
    if (PROFILE_DIR) note(`CPU profile written to ${PROFILE_DIR}; summarize it with: node bench/.build/bench/profile-top.js <file>`);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    admin.disconnect();
    await Promise.all([redis.stop(), sink.stop(), twilio.close()]);
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The node flags the production image starts the service with: the Dockerfile's CMD between "node" and the script. */
function imageNodeFlags(): string[] {
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const argv = cmd ? (JSON.parse(cmd[1]!) as string[]) : [];
  return argv[0] === 'node' ? argv.slice(1, argv.indexOf('dist/main.js')) : [];
}

/** Half the verifications get their real code, the other half a wrong one. */
function target(id: string, code: string, index: number): CheckTarget {
  if (index % 2 === 0) return { id, code, right: true };
  const wrong = String((Number(code) + 1) % 10 ** code.length).padStart(code.length, '0');
  return { id, code: wrong, right: false };
}

/**
 * The same phases for either server: warm-up, then `GET /health/live` and `POST /v1/verifications`
 * for BENCH_DURATION each, then one check of every verification created. A separate delivery worker's
 * CPU counts in what a send costs in all.
 */
async function measure(
  name: string,
  server: ServerProcess,
  url: string,
  worker: ServerProcess | undefined,
  targetsOf: (created: [string, string][]) => Promise<CheckTarget[]>,
  onSends?: (created: [string, string][], startedAt: number) => void,
): Promise<TargetResult> {
  const prefix = `${name}-${randomBytes(3).toString('hex')}`;
  const timed = async (job: LoadJob): Promise<Measured> => {
    note(`${name}: ${job.kind}`);
    const cpuBefore = server.cpuMs();
    const result = await load(job);
    const cpuMsPerRequest = (server.cpuMs() - cpuBefore) / Math.max(1, result.requests);
    note(`${name}: ${job.kind} done, ${result.requestsPerSecond.toFixed(0)} req/s, RSS now ${(server.rssBytes() / 1048576).toFixed(0)} MB`);
    return { ...result, cpuMsPerRequest };
  };
  // Live first, before anything is queued; then each send phase on an empty delivery queue, so no phase
  // shares the CPU with deliveries other than its own.
  await timed({ kind: 'live', url, connections: CONNECTIONS, durationSeconds: WARMUP_SECONDS });
  const live = await timed({ kind: 'live', url, connections: CONNECTIONS, durationSeconds: DURATION });
  const deliveryCpuMs = () => server.cpuMs() + (worker?.cpuMs() ?? 0);
  const sendCpuBefore = deliveryCpuMs();
  const warm = await timed({
    kind: 'send',
    url,
    connections: CONNECTIONS,
    durationSeconds: WARMUP_SECONDS,
    apiKey: API_KEY,
    prefix: `${prefix}-warm`,
  });
  const warmTargets = await targetsOf(warm.created ?? []);
  const startedAt = performance.now();
  const send = await timed({ kind: 'send', url, connections: CONNECTIONS, durationSeconds: DURATION, apiKey: API_KEY, prefix });
  onSends?.(send.created ?? [], startedAt);
  const targets = [...warmTargets, ...(await targetsOf(send.created ?? []))];
  // The service delivers what the sends queued partly while they run and partly after: its CPU from the
  // first send until the last message arrived, per send, is what a send costs in all.
  send.cpuMsPerSendDelivered = (deliveryCpuMs() - sendCpuBefore) / Math.max(1, send.requests + warm.requests);
  if (targets.length === 0) throw new Error(`${name}: no verification with a known code to check`);
  note(`${name}: ${targets.length} verifications to check`);
  const check = await timed({ kind: 'check', url, connections: CONNECTIONS, apiKey: API_KEY, targets });
  return { live, send, check, peakRss: 0 };
}

/** The send route with SMS, as two otherwise identical processes see it: the fraud guard off, and on. */
interface GuardResult {
  off: Measured;
  on: Measured;
}

/**
 * The fraud guard off (nothing to check: no call to Redis) and on (every cap and the suspension rule
 * checked and counted on every send, with limits no send reaches, so nothing is refused and both do
 * the same work besides). Both processes run from the start; their timed phases alternate, each on a
 * machine where the other is idle and every earlier send has been delivered.
 */
async function measureFraudGuard(
  serviceEnv: Record<string, string>,
  nodeArgs: string[],
  scratch: string,
  twilio: FakeTwilio,
  servers: ServerProcess[],
): Promise<GuardResult> {
  const off = { SMS_MAX_SENDS_PER_PREFIX_PER_HOUR: '0', SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:0', FRAUD_MIN_CONVERSION: '0' };
  const on = {
    SMS_MAX_SENDS_PER_PREFIX_PER_HOUR: '1000000',
    SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:100000000',
    FRAUD_MIN_SAMPLE: '1000000',
  };
  const started = await Promise.all(
    (
      [
        ['guard-off', off],
        ['guard-on', on],
      ] as const
    ).map(async ([name, env]) => {
      const server = ServerProcess.start(name, [...nodeArgs, MAIN_JS], { ...serviceEnv, ...env }, scratch);
      servers.push(server);
      const url = await server.listening();
      await waitUntil(async () => (await fetch(`${url}/health/ready`)).status === 200, 30_000, `${name} to be ready`);
      return { name, server, url };
    }),
  );
  let first = 0;
  let sent = twilio.messages.length;
  const phase = async ({ name, server, url }: (typeof started)[number], durationSeconds: number): Promise<Measured> => {
    const sms: SmsNumbers = { first };
    note(`${name}: sms send`);
    const cpuBefore = server.cpuMs();
    const result = await load({ kind: 'send', url, connections: CONNECTIONS, durationSeconds, apiKey: API_KEY, prefix: name, sms });
    const cpuMsPerRequest = (server.cpuMs() - cpuBefore) / Math.max(1, result.requests);
    // Requests still in flight when the phase ended took numbers too: the next phase starts past them.
    first += result.requests + 2 * CONNECTIONS;
    sent += result.created?.length ?? 0;
    note(`${name}: sms send done, ${result.requestsPerSecond.toFixed(0)} req/s; waiting for its texts to be delivered`);
    await waitUntil(() => twilio.messages.length >= sent, 120_000, `${name}'s texts to arrive`, false);
    return { ...result, cpuMsPerRequest };
  };
  const [guardOff, guardOn] = started as [(typeof started)[number], (typeof started)[number]];
  for (const target of started) await phase(target, WARMUP_SECONDS);
  const rounds: [Measured, Measured][] = [];
  for (let round = 0; round < 2; round++) rounds.push([await phase(guardOff, DURATION), await phase(guardOn, DURATION)]);
  await Promise.all(started.map(({ server }) => server.stop()));
  return { off: combined(rounds.map(([measured]) => measured)), on: combined(rounds.map(([, measured]) => measured)) };
}

/** Phases of one kind as one: requests and CPU summed, latencies of the slower phase. */
function combined(phases: Measured[]): Measured {
  const requests = phases.reduce((sum, phase) => sum + phase.requests, 0);
  const durationSeconds = phases.reduce((sum, phase) => sum + phase.durationSeconds, 0);
  const statuses: Record<string, number> = {};
  for (const phase of phases) for (const [status, n] of Object.entries(phase.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  return {
    requests,
    durationSeconds,
    requestsPerSecond: requests / durationSeconds,
    p50: Math.max(...phases.map((phase) => phase.p50)),
    p99: Math.max(...phases.map((phase) => phase.p99)),
    statuses,
    unexpected: phases.reduce((sum, phase) => sum + phase.unexpected, 0),
    errors: phases.reduce((sum, phase) => sum + phase.errors, 0),
    timeouts: phases.reduce((sum, phase) => sum + phase.timeouts, 0),
    cpuMsPerRequest: phases.reduce((sum, phase) => sum + phase.cpuMsPerRequest * phase.requests, 0) / Math.max(1, requests),
  };
}

function load(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(join(HERE, 'load-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: LoadResult | undefined;
    child.once('message', (message) => (result = message as LoadResult));
    child.once('exit', (code) => (result ? resolvePromise(result) : reject(new Error(`load client exited with ${code}`))));
    child.send(job);
  });
}

/**
 * Time from the 201 to the message's last byte at the SMTP server, for sends paced at a steady
 * 50 per second (one client, this process: both timestamps come from the same clock); and the
 * sustained rate over the send phase's burst: messages delivered / (last arrival − burst start).
 */
async function measureDelivery(url: string, sink: SmtpSink, burst: [string, string][], burstStartedAt: number): Promise<DeliveryResult> {
  const burstArrivals = burst.map(([to]) => sink.arrivals.get(to)?.at).filter((at): at is number => at !== undefined);
  const lastArrival = Math.max(...burstArrivals);
  note(`service: delivery latency (${LATENCY_SENDS} sends, one every ${LATENCY_INTERVAL_MS} ms)`);
  const prefix = `latency-${randomBytes(3).toString('hex')}`;
  const accepted: { to: string; at: number }[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < LATENCY_SENDS; i++) {
    const to = `${prefix}-${i}@bench.example.com`;
    pending.push(
      fetch(`${url}/v1/verifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify({ channel: 'email', to }),
      }).then(async (response) => {
        const at = performance.now();
        await response.arrayBuffer();
        if (response.status === 201) accepted.push({ to, at });
      }),
    );
    await sleep(LATENCY_INTERVAL_MS);
  }
  await Promise.all(pending);
  await waitUntil(() => accepted.every(({ to }) => sink.arrivals.has(to)), 60_000, 'the paced messages to arrive', false);
  const latencies = accepted.flatMap(({ to, at }) => {
    const arrival = sink.arrivals.get(to);
    return arrival ? [arrival.at - at] : [];
  });
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    measured: latencies.length,
    sustainedPerSecond: burstArrivals.length / ((lastArrival - burstStartedAt) / 1000),
    burst: burst.length,
    delivered: burstArrivals.length,
  };
}

function printTable(
  service: TargetResult,
  baseline: TargetResult,
  floor: TargetResult,
  delivery: DeliveryResult,
  guard: GuardResult,
): void {
  const routes: [string, 'send' | 'check' | 'live'][] = [
    ['POST /v1/verifications', 'send'],
    ['POST /v1/verifications/check', 'check'],
    ['GET /health/live', 'live'],
  ];
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  const ms = (value: number) => `${value.toFixed(value < 1 ? 2 : 1)} ms`;
  const rows: string[][] = [
    ['route', 'service req/s', 'p50', 'p99', 'CPU/req', 'baseline req/s', 'p50', 'p99', 'CPU/req', 'service/baseline'],
    ...routes.map(([label, key]) => [
      label,
      service[key].requestsPerSecond.toFixed(0),
      ms(service[key].p50),
      ms(service[key].p99),
      ms(service[key].cpuMsPerRequest),
      baseline[key].requestsPerSecond.toFixed(0),
      ms(baseline[key].p50),
      ms(baseline[key].p99),
      ms(baseline[key].cpuMsPerRequest),
      (service[key].requestsPerSecond / baseline[key].requestsPerSecond).toFixed(2),
    ]),
    [
      'peak RSS (VmHWM)',
      mb(service.peakRss),
      '',
      '',
      '',
      mb(baseline.peakRss),
      '',
      '',
      '',
      (service.peakRss / baseline.peakRss).toFixed(2),
    ],
  ];
  const out: string[] = [];
  out.push('', `otp-gateway benchmark: ${CONNECTIONS} connections, ${DURATION} s per phase, node ${process.version}`);
  out.push(
    service.workerPeakRss === undefined
      ? 'service: one process answering and delivering'
      : `service: the API process (DELIVERY_WORKER=false); deliveries by a worker process beside it at nice ${WORKER_NICENESS}`,
    '',
  );
  out.push(...formatTable(rows), '');
  const floorRows: string[][] = [
    ['route', 'floor req/s', 'p50', 'p99', 'CPU/req', 'floor/baseline', 'service/floor'],
    // Its GET /health/live is the service's own route unchanged (no body, no guard): the table above already compares it.
    ...routes
      .filter(([, key]) => key !== 'live')
      .map(([label, key]) => [
        label,
        floor[key].requestsPerSecond.toFixed(0),
        ms(floor[key].p50),
        ms(floor[key].p99),
        ms(floor[key].cpuMsPerRequest),
        (floor[key].requestsPerSecond / baseline[key].requestsPerSecond).toFixed(2),
        (service[key].requestsPerSecond / floor[key].requestsPerSecond).toFixed(2),
      ]),
  ];
  out.push(
    "framework floor: the service's HTTP pipeline (Nest on Fastify, request ids and log line, histogram, validation,",
    'error filter, API-key guard) around the same POST routes, validating their bodies and doing nothing else',
    '',
    ...formatTable(floorRows),
    '',
  );
  out.push(
    `delivery, 201 -> message at the SMTP server: p50 ${ms(delivery.p50)}, p99 ${ms(delivery.p99)} (${delivery.measured} sends, one every ${LATENCY_INTERVAL_MS} ms)`,
    `sustained deliveries: ${delivery.sustainedPerSecond.toFixed(0)}/s (${delivery.delivered} of ${delivery.burst} messages of the send phase's burst)`,
    `service CPU per send including its delivery: ${ms(service.send.cpuMsPerSendDelivered ?? Number.NaN)} (send phase until the last message arrived${service.workerPeakRss === undefined ? '' : ', API and worker'})`,
  );
  if (service.workerPeakRss !== undefined) out.push(`delivery worker peak RSS (VmHWM): ${mb(service.workerPeakRss)}`);
  const guardRatio = guard.on.requestsPerSecond / guard.off.requestsPerSecond;
  out.push(
    '',
    'fraud guard: POST /v1/verifications with SMS, two processes alike but for the guard, timed phases alternating (2 each)',
    '',
    ...formatTable([
      ['fraud guard', 'req/s', 'p50', 'p99', 'CPU/req'],
      ...(['off', 'on'] as const).map((key) => [
        key,
        guard[key].requestsPerSecond.toFixed(0),
        ms(guard[key].p50),
        ms(guard[key].p99),
        ms(guard[key].cpuMsPerRequest),
      ]),
    ]),
    `on/off: ${guardRatio.toFixed(2)} of the throughput, ${(guard.on.cpuMsPerRequest / guard.off.cpuMsPerRequest).toFixed(2)} x the CPU per send`,
  );
  for (const [label, result] of [
    ['guard off', guard.off],
    ['guard on', guard.on],
  ] as const) {
    if (result.unexpected > 0 || result.errors > 0 || result.timeouts > 0) {
      out.push(
        `WARNING ${label}: ${result.unexpected} unexpected statuses ${JSON.stringify(result.statuses)}, ${result.errors} errors, ${result.timeouts} timeouts`,
      );
    }
  }
  for (const [label, result] of (['service', 'baseline', 'floor'] as const).flatMap((name) =>
    routes.map(([l, k]) => [`${name} ${l}`, { service, baseline, floor }[name][k]] as const),
  )) {
    if (result.unexpected > 0 || result.errors > 0 || result.timeouts > 0) {
      out.push(
        `WARNING ${label}: ${result.unexpected} unexpected statuses ${JSON.stringify(result.statuses)}, ${result.errors} errors, ${result.timeouts} timeouts`,
      );
    }
  }
  const ratio = (key: 'send' | 'check') => service[key].requestsPerSecond / baseline[key].requestsPerSecond;
  const targets: [string, boolean][] = [
    [`send >= 0.5 x baseline (${ratio('send').toFixed(2)})`, ratio('send') >= 0.5],
    [`check >= 0.5 x baseline (${ratio('check').toFixed(2)})`, ratio('check') >= 0.5],
    [
      `p99 < 25 ms at ${CONNECTIONS} connections (send ${ms(service.send.p99)}, check ${ms(service.check.p99)}, live ${ms(service.live.p99)})`,
      Math.max(service.send.p99, service.check.p99, service.live.p99) < 25,
    ],
    [`delivery p50 < 30 ms (${ms(delivery.p50)})`, delivery.p50 < 30],
    [`peak RSS < 250 MB (${mb(service.peakRss)})`, service.peakRss < 250 * 1024 * 1024],
    [`fraud guard keeps >= 0.9 of the SMS send throughput (${guardRatio.toFixed(2)})`, guardRatio >= 0.9],
  ];
  out.push('', 'targets:', ...targets.map(([label, met]) => `  [${met ? 'met' : 'MISSED'}] ${label}`), '');
  console.log(out.join('\n'));
}

/** A header row, a rule and the rows, columns padded to their widest cell; the first left-aligned, numbers right. */
function formatTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, required = true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      if (required) throw new Error(`gave up waiting for ${what}`);
      return false;
    }
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function note(message: string): void {
  console.error(`[bench] ${message}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
