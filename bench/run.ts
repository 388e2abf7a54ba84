import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Bull from 'bull';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Redis } from 'ioredis';
import pg from 'pg';
import { users } from '../src/database/schema.js';
import { DELIVERY_QUEUE_NAME } from '../src/messaging/delivery/delivery-job.js';
import { FakeTwilio } from '../test/support/fake-twilio.js';
import { RedisServer } from '../test/support/redis-server.js';
import { createScratchPostgresDatabase } from '../test/support/scratch-postgres.js';
import { BASELINE_QUEUE } from './baseline-server.js';
import { IDLE, type ProfileSummary, summarizeProfile } from './cpu-profile.js';
import { accountEmail, type CheckTarget, type LoadJob, type LoadResult, type SignInTarget, type SmsNumbers } from './load-client.js';
import { machineCpu, redisCpuMs } from './machine-cpu.js';
import { median, type PairedRatio, pairedRatio } from './paired-ratio.js';
import { serverRuntime } from './runtime.js';
import {
  API_KEY,
  load,
  note,
  POSTGRES,
  phaseProfiler,
  PROFILE_DIR,
  ROOT,
  ServerProcess,
  serviceEnvironment,
  serviceNodeArgs,
  sleep,
  waitUntil,
} from './server-process.js';
import { SmtpSink } from './smtp-sink.js';

/**
 * `npm run bench`: the service as production runs it (built, NODE_ENV=production, its own Redis,
 * PostgreSQL, a real SMTP server and a fake Twilio), as an API process (DELIVERY_WORKER=false) and a
 * delivery worker process (DELIVERY_WORKER=true) beside it, against two yardsticks measured in the same
 * run: the framework floor (the service's HTTP pipeline around routes that do nothing) and a bare
 * Fastify + ioredis baseline. All are loaded from a separate process (autocannon at saturation, an evenly
 * paced open-loop client at half load). After the service's phases, its processes and a floor beside them are
 * measured in turn, in paired rounds whose ratios the two ratio targets are judged on (measureRatioRounds); then the
 * floor at saturation runs again, and the table's service/floor ratios are taken against both of its runs. The
 * yardsticks are paced at the service's half-load rates too, after the service: a server's CPU per request grows as
 * its load falls (fewer requests share each wakeup, system call and Redis write), and those rows show how much of
 * that the rate itself costs a server that does less. Then SMS sends with the fraud guard off and on. Prints one
 * table and the targets, each [met] or [MISSED]; writes nothing but the CPU profiles it is asked for.
 *
 * The delivery queue is paused (globally, from this process, with Bull) whenever the API is measured,
 * so no delivery shares the CPU with a timed API phase; the worker drains what a phase queued in a
 * phase of its own, with the API idle, and that drain is what its CPU per email is measured over.
 *
 * BENCH_DURATION (seconds per timed phase, 10), BENCH_CONNECTIONS (50), BENCH_MEMORY_VERIFICATIONS (verifications
 * created for the Redis memory figure, 100000), BENCH_RATIO_ROUNDS (6) and BENCH_RATIO_SECONDS (3) (the paired
 * rounds), BENCH_DATABASE_URL or TEST_DATABASE_URL (a PostgreSQL server; a scratch database is created and dropped on
 * it), BENCH_CPU_PROF=1 (a CPU profile per timed phase of the service, of the floor at saturation and of the fraud
 * guard's two processes, in bench/results/), BENCH_HEAP_PROF=1 (with it, a heap profile of each of those phases too),
 * BENCH_NODE_ARGS (more node flags for the service, e.g. --max-old-space-size=128), BENCH_NODE (the node binary the
 * servers run on; by default the production image's Node.js major, bench/runtime.ts), BENCH_ONLY=guard (the fraud
 * guard's phases alone).
 */

const HERE = fileURLToPath(new URL('.', import.meta.url));
const MAIN_JS = join(ROOT, 'dist/main.js');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const MEMORY_VERIFICATIONS = Number(process.env.BENCH_MEMORY_VERIFICATIONS ?? 100_000);
/** BENCH_ONLY=guard: nothing but the fraud guard's phases and figure. */
const ONLY_GUARD = process.env.BENCH_ONLY === 'guard';
const WARMUP_SECONDS = 3;
/** Paired rounds of the service and the floor, measured in turn, that the two ratio targets are judged on. */
const RATIO_ROUNDS = Number(process.env.BENCH_RATIO_ROUNDS ?? 6);
/** Seconds of sends at saturation each side takes per round. */
const RATIO_SECONDS = Number(process.env.BENCH_RATIO_SECONDS ?? 3);
const LATENCY_SENDS = 300;
const LATENCY_INTERVAL_MS = 20;
/** The half load of the latency targets: this share of the route's throughput at saturation. */
const HALF = 0.5;
/**
 * Seeded accounts per second of the warm-up otp/start phase: more than one process can start on this machine, so none
 * is used twice. The timed phase seeds half as many again as the warm-up's rate, as a faster machine needs.
 */
const ACCOUNTS_PER_SECOND = 10_000;
/** The service's default OTP_TTL_SECONDS, which the benchmark leaves as it is. */
const CODE_LIFETIME_SECONDS = 600;
/** The delivery queue's key prefix, as MessagingModule registers it (one hash tag for every key). */
const DELIVERY_QUEUE_PREFIX = '{otp-delivery}';

const TARGETS = {
  sendOfFloor: 0.5,
  checkOfFloor: 0.6,
  halfLoadP99Ms: 10,
  deliveryCpuMsPerEmail: 1.0,
  peakRssBytes: 200 * 1024 * 1024,
  redisBytesPerVerification: 600,
  signInCpuMs: 1.0,
  fraudGuardShare: 0.9,
};

/** A phase's numbers, with the server's CPU time per request over the phase. */
type Measured = LoadResult & {
  cpuMsPerRequest: number;
  sleepsPerRequest?: number;
  /** The share of the phase the server's main thread spent waiting for a core while it had work. */
  waitedShare?: number;
  bystanderCpuMs?: number;
  gc?: GcPauses;
};

/** The garbage collector's pauses over a phase, by kind (minor: scavenges; major: mark-compact), from the service's own metrics. */
type GcPauses = Record<'minor' | 'major', { count: number; seconds: number; over10ms: number }>;

/** What the floor and the baseline are measured on: sends and checks at saturation. */
interface YardstickResult {
  send: Measured;
  check: Measured;
  peakRss: number;
}

/** The worker sending what a phase queued, with the API idle. */
interface Drain {
  messages: number;
  queued: number;
  seconds: number;
  perSecond: number;
  cpuMsPerEmail: number;
}

interface ServiceResult {
  send: Measured;
  check: Measured;
  halfSend: Measured;
  halfCheck: Measured;
  otpStart: Measured;
  otpVerify: Measured;
  drain: Drain;
  /** 201 → message at the SMTP server, for sends paced well below capacity with the queue running. */
  latency: { p50: number; p99: number; measured: number };
  memory: RedisMemory;
  apiPeakRss: number;
  workerPeakRss: number;
}

interface RedisMemory {
  verifications: number;
  /** used_memory: on the flushed Redis with both processes up; with every verification queued; after every one was delivered. */
  before: number;
  queued: number;
  delivered: number;
  /** From the first send to the last reading: past the codes' lifetime, the first verifications are gone from Redis. */
  seconds: number;
  /** After delivery, what each kind of key holds (MEMORY USAGE, which leaves out the server's own per-key bookkeeping). */
  byKind: KeyKindUsage[];
}

interface KeyKindUsage {
  kind: string;
  keys: number;
  bytes: number;
}

/** How the service names its keys (store, destination hash, delivery ledger, limiters, Bull's prefixes); the first match wins. */
const KEY_KINDS: [string, RegExp][] = [
  // `otp:{v:<uuid>}`, or `otp:{<id in base64url>}` for the ids this version mints (verification-key.ts).
  ['verification', /^otp:\{(?:v:|[A-Za-z0-9_-]{22}\})/],
  ['destination', /^otp:\{d:/],
  ['provider message', /^otp:\{m:/],
  ['throttler', /^otp:\{t:/],
  ['conversion', /^otp:\{conversion:/],
  ['fraud guard', /^otp:\{fraud\}/],
  ['delivery queue', /^\{otp-delivery\}/],
  ['webhook queue', /^\{otp-webhooks\}/],
];

/** Every key's MEMORY USAGE, summed by kind, the largest first. */
async function usageByKind(admin: Redis): Promise<KeyKindUsage[]> {
  const kinds = new Map<string, KeyKindUsage>();
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const pipeline = admin.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const usages = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const kind = KEY_KINDS.find(([, pattern]) => pattern.test(key))?.[0] ?? 'other';
      const entry = kinds.get(kind) ?? { kind, keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += Number(usages[i]?.[1] ?? 0);
      kinds.set(kind, entry);
    });
  } while (cursor !== '0');
  return [...kinds.values()].sort((a, b) => b.bytes - a.bytes);
}

async function main(): Promise<void> {
  ServerProcess.runtime = serverRuntime(ROOT, note);
  const { runtime } = ServerProcess;
  note(`servers on node ${runtime.version} (${runtime.source}), load client on node ${process.version}`);
  note(`the image's environment for every server: ${JSON.stringify(runtime.env)}`);
  if (runtime.mismatch) note(`warning: ${runtime.mismatch}; set BENCH_NODE to measure what production runs`);
  const [redis, sink, twilio] = await Promise.all([RedisServer.start(), SmtpSink.start(), FakeTwilio.start()]);
  const database = await createScratchPostgresDatabase(POSTGRES, 'otp_bench');
  const scratch = mkdtempSync(join(tmpdir(), 'otp-gateway-bench-'));
  const admin = new Redis(redis.url);
  const servers: ServerProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  try {
    note(`redis ${redis.url}, smtp 127.0.0.1:${sink.port}, twilio ${twilio.url}, postgres ${database.name}`);
    if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
    const profiles = new Map<string, string>();

    // The baseline first, alone on the machine; then the floor, alone; then the service on a flushed Redis.
    // Each yardstick runs as a process of its own, started again for its half-load phases after the service's.
    const baselineTargets = async () => {
      // Taken off the list, so each verification is checked once however often this is called.
      const [[, items]] = (await admin.multi().lrange(BASELINE_QUEUE, 0, -1).del(BASELINE_QUEUE).exec()) as [[null, string[]]];
      return items.map((item) => JSON.parse(item) as { id: string; code: string }).map(({ id, code }, i) => target(id, code, i));
    };
    const floorTargets = async (created: [string, string][]) => floorTargetsOf(created);
    const yardstick = async (name: 'baseline' | 'floor', rates?: HalfLoadRates, { again = false } = {}) => {
      // The floor's first run at saturation is profiled too (BENCH_CPU_PROF=1): the service's profile less the floor's,
      // function by function, is the service's own work.
      const profiler = phaseProfiler(name === 'floor' && !rates && !again);
      const profiled = profiler.args.length > 0;
      const server =
        name === 'baseline'
          ? ServerProcess.start(name, [join(HERE, 'baseline-server.js')], { REDIS_URL: redis.url }, scratch)
          : ServerProcess.start(
              name,
              [...nodeArgs, ...profiler.args, join(HERE, 'framework-floor.js')],
              { ...serviceEnv, ...profiler.env },
              scratch,
            );
      servers.push(server);
      const measured = await measureYardstick(
        name,
        server,
        await server.listening(),
        name === 'baseline' ? baselineTargets : floorTargets,
        rates,
        profiled ? (phase, work) => server.profiled(`floor-${phase}`, work, profiles) : undefined,
      );
      await server.stop();
      await admin.flushall();
      return measured;
    };

    const serviceEnv = serviceEnvironment({ redisUrl: redis.url, databaseUrl: database.url, smtp: sink, twilio });
    const nodeArgs = serviceNodeArgs();
    note(`service node flags: ${nodeArgs.join(' ') || '(none)'}`);

    if (ONLY_GUARD) {
      // The fraud guard's phases alone: a change to the guard measured in three minutes instead of ten.
      const guard = await measureFraudGuard(serviceEnv, nodeArgs, scratch, twilio, servers, profiles);
      console.log(['', ...guardLines(guard), '', 'target:', targetLine(guardTarget(guard)), ''].join('\n'));
      return;
    }
    const baseline = await yardstick('baseline');
    // The service's HTTP pipeline around routes that do no work, with the service's flags and configuration.
    const floor = await yardstick('floor');

    const { result: service, processes } = await measureService(
      serviceEnv,
      nodeArgs,
      scratch,
      redis.url,
      database.url,
      sink,
      admin,
      servers,
      closers,
      profiles,
    );
    // The ratios the targets are judged on: the service's processes, warmed by its phases, and a floor, in turn.
    const ratioRounds =
      RATIO_ROUNDS > 0 ? await measureRatioRounds(processes, admin, sink, serviceEnv, nodeArgs, scratch, servers) : undefined;
    await Promise.all([processes.api.stop(), processes.worker.stop()]);
    await admin.flushall();
    // The floor at saturation again, right after the service: on a shared machine a yardstick run minutes apart from
    // what it measures may have met another machine (one run's floor sent 6,444 req/s before the service, 8,147
    // after). The table's service/floor ratios are taken against both runs' geometric mean, and each run's is printed,
    // so the spread shows.
    const floorAfter = await yardstick('floor', undefined, { again: true });

    // The rates of the service's half-load phases, for the yardsticks: what such a rate costs a server doing less.
    const rates = { send: HALF * service.send.requestsPerSecond, check: HALF * service.check.requestsPerSecond };
    const halfLoad = {
      baseline: await yardstick('baseline', rates),
      floor: await yardstick('floor', rates),
      // The framework alone at half of its own capacity: the latency a route doing nothing has at half load.
      ownFloor: await yardstick('floor', { send: HALF * floor.send.requestsPerSecond, check: HALF * floor.check.requestsPerSecond }),
      // A server whose every request waits on Redis, at half of its own capacity: whether the rate's own cost
      // (CPU/req ÷ saturation) leaves any server that talks to Redis within the latency target on this machine.
      ownBaseline: await yardstick('baseline', {
        send: HALF * baseline.send.requestsPerSecond,
        check: HALF * baseline.check.requestsPerSecond,
      }),
    };

    const guard = await measureFraudGuard(serviceEnv, nodeArgs, scratch, twilio, servers, profiles);

    printTable(service, baseline, { before: floor, after: floorAfter }, ratioRounds, halfLoad, guard, profiles);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    for (const close of closers) await close().catch(() => undefined);
    admin.disconnect();
    await Promise.all([redis.stop(), sink.stop(), twilio.close()]);
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The floor approves any code: one check of each verification it created. */
function floorTargetsOf(created: [string, string][] | undefined): CheckTarget[] {
  return (created ?? []).map(([, id]) => ({ id, code: '123456', right: true }));
}

/** Half the verifications get their real code, the other half a wrong one. */
function target(id: string, code: string, index: number): CheckTarget {
  if (index % 2 === 0) return { id, code, right: true };
  const wrong = String((Number(code) + 1) % 10 ** code.length).padStart(code.length, '0');
  return { id, code: wrong, right: false };
}

/**
 * A load phase against `server`, with its CPU time per request over the phase. A `bystander` (the delivery
 * worker while the queue is paused) should stay idle: its CPU time meanwhile is noted, so a measurement it
 * disturbed shows.
 */
async function timed(name: string, server: ServerProcess, job: LoadJob, bystander?: ServerProcess): Promise<Measured> {
  const label = `${name}: ${job.kind}${job.rate === undefined ? '' : ` at ${job.rate.toFixed(0)} req/s`}`;
  note(label);
  const cpuBefore = server.cpuMs();
  const sleepsBefore = server.mainThreadSleeps();
  const waitBefore = server.mainThreadWaitMs();
  const bystanderBefore = bystander?.cpuMs() ?? 0;
  // Paced, the answers later than the latency target are counted with the runs they come in.
  const result = await load(job.rate === undefined ? job : { lateMs: TARGETS.halfLoadP99Ms, ...job });
  const cpuMsPerRequest = (server.cpuMs() - cpuBefore) / Math.max(1, result.requests);
  const sleepsPerRequest = (server.mainThreadSleeps() - sleepsBefore) / Math.max(1, result.requests);
  const waitAfter = server.mainThreadWaitMs();
  // Over the phase as the client timed it: the client's own start-up, with the server idle, is no part of it.
  const waitedShare =
    waitBefore === undefined || waitAfter === undefined ? undefined : (waitAfter - waitBefore) / (result.durationSeconds * 1000);
  const bystanderMs = bystander ? bystander.cpuMs() - bystanderBefore : 0;
  note(
    `${label} done, ${result.requests} requests in ${result.durationSeconds.toFixed(2)} s, ${result.requestsPerSecond.toFixed(0)} req/s, ` +
      `p99 ${result.p99} ms, ` +
      `${cpuMsPerRequest.toFixed(2)} ms CPU/request, RSS now ${(server.rssBytes() / 1048576).toFixed(0)} MB` +
      (bystander ? `; ${bystander.name} meanwhile ${bystanderMs} ms CPU` : ''),
  );
  if (result.unexpected > 0) note(`${label}: unexpected statuses ${JSON.stringify(result.statuses)}`);
  return { ...result, cpuMsPerRequest, sleepsPerRequest, waitedShare, bystanderCpuMs: bystanderMs };
}

/** Requests per second of the service's half-load phases. */
interface HalfLoadRates {
  send: number;
  check: number;
}

/** A yardstick's warm-up: WARMUP_SECONDS of `GET /health/live`, then as many of sends at saturation. */
async function warmUp(name: string, server: ServerProcess, url: string, prefix: string): Promise<Measured> {
  await timed(name, server, { kind: 'live', url, connections: CONNECTIONS, durationSeconds: WARMUP_SECONDS });
  return timed(name, server, { kind: 'send', url, connections: CONNECTIONS, durationSeconds: WARMUP_SECONDS, apiKey: API_KEY, prefix });
}

/**
 * The floor's and the baseline's phases: warm-up, then `POST /v1/verifications` for BENCH_DURATION,
 * then one check of every verification created, all at saturation; with `rates`, the sends and the
 * checks at those fixed rates (the warm-up still at saturation).
 */
async function measureYardstick(
  name: string,
  server: ServerProcess,
  url: string,
  targetsOf: (created: [string, string][]) => Promise<CheckTarget[]>,
  rates?: HalfLoadRates,
  profiled: (phase: 'send' | 'check', work: () => Promise<Measured>) => Promise<Measured> = (_phase, work) => work(),
): Promise<YardstickResult> {
  const prefix = `${name}-${randomBytes(3).toString('hex')}`;
  const warm = await warmUp(name, server, url, `${prefix}-warm`);
  const warmTargets = await targetsOf(warm.created ?? []);
  const send = await profiled('send', () =>
    timed(name, server, {
      kind: 'send',
      url,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      apiKey: API_KEY,
      prefix,
      rate: rates?.send,
    }),
  );
  // Paced, only the paced sends' verifications are checked: the warm-up's would make the phase longer, not different.
  const targets = [...(rates ? [] : warmTargets), ...(await targetsOf(send.created ?? []))];
  if (targets.length === 0) throw new Error(`${name}: no verification to check`);
  const check = await profiled('check', () =>
    timed(name, server, { kind: 'check', url, connections: CONNECTIONS, apiKey: API_KEY, targets, rate: rates?.check }),
  );
  return { send, check, peakRss: server.peakRssBytes() };
}

/**
 * The delivery queue as the benchmark holds it: paused globally (Bull's own pause, which every
 * process using the queue obeys) while the API is measured, resumed for the worker's drain phases.
 */
class DeliveryQueueControl {
  private readonly queue: Bull.Queue;

  constructor(redisUrl: string) {
    this.queue = new Bull(DELIVERY_QUEUE_NAME, redisUrl, { prefix: DELIVERY_QUEUE_PREFIX });
  }

  pause(): Promise<void> {
    return this.queue.pause(false);
  }

  resume(): Promise<void> {
    return this.queue.resume(false);
  }

  /** Jobs not yet settled: queued while paused, waiting, being worked on or waiting for a retry. */
  unsettled(): Promise<number> {
    return this.queue.getJobCountByTypes(['paused', 'waiting', 'active', 'delayed']);
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** Each verification once, half with its real code (from its message at the SMTP sink) and half with a wrong one. */
function checkTargetsOf(sink: SmtpSink, created: [string, string][]): CheckTarget[] {
  return created.flatMap(([to, id], i) => {
    const code = sink.arrivals.get(to)?.code;
    return code ? [target(id, code, i)] : [];
  });
}

/**
 * A drain of the worker's: resumes the queue until every message of `destinations` arrived and the queue is settled,
 * then pauses it again, with the worker's CPU time per email over it.
 */
function drainer(worker: ServerProcess, queue: DeliveryQueueControl, sink: SmtpSink, profiles: Map<string, string>) {
  return async (label: string, destinations: string[], profile?: string): Promise<Drain> => {
    note(`worker: drain ${label} (${destinations.length} messages)`);
    const work = async () => {
      const cpuBefore = worker.cpuMs();
      const startedAt = performance.now();
      await queue.resume();
      let arrived = 0;
      const all = await waitUntil(
        () => {
          while (arrived < destinations.length && sink.arrivals.has(destinations[arrived]!)) arrived += 1;
          return arrived === destinations.length;
        },
        60_000 + destinations.length * 20,
        `${label}'s messages to arrive`,
        false,
      );
      const arrivals = destinations.map((to) => sink.arrivals.get(to)?.at ?? Number.NaN).filter((at) => !Number.isNaN(at));
      // Reduced rather than spread: a drain can have more messages than a call can take arguments.
      const firstArrival = arrivals.reduce((first, at) => Math.min(first, at), Number.POSITIVE_INFINITY);
      const lastArrival = arrivals.reduce((last, at) => Math.max(last, at), startedAt);
      // What the worker does after the SMTP conversation (ledger, status, metrics) belongs to the email too.
      await waitUntil(async () => (await queue.unsettled()) === 0, 30_000, 'the delivery queue to settle', false);
      const cpuMs = worker.cpuMs() - cpuBefore;
      await queue.pause();
      const messages = destinations.filter((to) => sink.arrivals.has(to)).length;
      if (!all) note(`worker: only ${messages} of ${destinations.length} messages of ${label} arrived`);
      const seconds = (lastArrival - startedAt) / 1000;
      note(
        `worker: drain ${label} done, first email ${(firstArrival - startedAt).toFixed(0)} ms after the resume, ` +
          `${(messages / seconds).toFixed(0)} emails/s, ${(cpuMs / Math.max(1, messages)).toFixed(2)} ms CPU/email`,
      );
      return {
        messages,
        queued: destinations.length,
        seconds,
        perSecond: messages / seconds,
        cpuMsPerEmail: cpuMs / Math.max(1, messages),
      };
    };
    return profile ? worker.profiled(profile, work, profiles) : work();
  };
}

/**
 * The service's phases, on an API process (DELIVERY_WORKER=false) and a worker process
 * (DELIVERY_WORKER=true), the queue paused but while the worker drains:
 *
 * 1. Redis memory, on a flushed Redis: BENCH_MEMORY_VERIFICATIONS sends, then their delivery (also the warm-up), and
 *    what each kind of key holds then;
 * 2. a warm-up send, its drain and a check of each; sends at saturation, their drain (the delivery figures),
 *    then a check of each of them at saturation;
 * 3. sends at half the saturation rate, their drain, then checks of them at half the checks' saturation rate;
 * 4. passwordless sign-ins of seeded accounts: otp/start (warm-up, then at saturation), each followed by its
 *    drain and an otp/verify of every challenge with the code its email carried;
 * 5. the time from 201 to the message at the SMTP server, for paced sends with the queue running.
 *
 * The two processes are left running, for the paired rounds (measureRatioRounds); the caller stops them.
 */
async function measureService(
  serviceEnv: Record<string, string>,
  nodeArgs: string[],
  scratch: string,
  redisUrl: string,
  databaseUrl: string,
  sink: SmtpSink,
  admin: Redis,
  servers: ServerProcess[],
  closers: (() => Promise<unknown>)[],
  profiles: Map<string, string>,
): Promise<{ result: ServiceResult; processes: ServiceProcesses }> {
  const profiler = phaseProfiler();
  const start = async (name: string, worker: boolean) => {
    const env = { ...serviceEnv, DELIVERY_WORKER: String(worker), ...profiler.env };
    const server = ServerProcess.start(name, [...nodeArgs, ...profiler.args, MAIN_JS], env, scratch);
    servers.push(server);
    const url = await server.listening();
    await waitUntil(async () => (await fetch(`${url}/health/ready`)).status === 200, 120_000, `the ${name} to be ready`);
    return { server, url };
  };
  const [{ server: api, url }, { server: worker }] = await Promise.all([start('api', false), start('worker', true)]);
  note('service: an API process (DELIVERY_WORKER=false) and a worker process (DELIVERY_WORKER=true); delivery queue paused');
  const queue = new DeliveryQueueControl(redisUrl);
  closers.push(() => queue.close());
  await queue.pause();
  const prefix = `service-${randomBytes(3).toString('hex')}`;
  const load = { url, connections: CONNECTIONS, apiKey: API_KEY };

  const drain = drainer(worker, queue, sink, profiles);
  const checkTargets = (created: [string, string][]) => checkTargetsOf(sink, created);
  const signInTargets = (created: [string, string][]): SignInTarget[] =>
    created.flatMap(([to, challengeId]) => {
      const code = sink.arrivals.get(to)?.code;
      return code ? [{ challengeId, code }] : [];
    });
  const destinations = (measured: Measured) => (measured.created ?? []).map(([to]) => to);
  const nonEmpty = <T>(targets: T[], what: string): T[] => {
    if (targets.length === 0) throw new Error(`service: no ${what} with a known code`);
    return targets;
  };

  // 1. Redis memory per pending verification: Redis was flushed before the processes started.
  const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
  const memory: RedisMemory = { verifications: 0, before: await usedMemory(), queued: 0, delivered: 0, seconds: 0, byKind: [] };
  if (MEMORY_VERIFICATIONS > 0) {
    const startedAt = performance.now();
    const memorySends = await timed(
      'api',
      api,
      { kind: 'send', ...load, amount: MEMORY_VERIFICATIONS, prefix: `${prefix}-memory` },
      worker,
    );
    memory.queued = await usedMemory();
    await drain('of the memory phase', destinations(memorySends));
    memory.delivered = await usedMemory();
    memory.verifications = memorySends.created?.length ?? 0;
    memory.seconds = (performance.now() - startedAt) / 1000;
    memory.byKind = await usageByKind(admin);
  }
  // Their codes are not needed any longer: the SMTP server forgets them, and this process stays light.
  sink.arrivals.clear();

  // 2. Warm-up; sends at saturation, their drain, checks at saturation.
  const warm = await timed('api', api, { kind: 'send', ...load, durationSeconds: WARMUP_SECONDS, prefix: `${prefix}-warm` }, worker);
  await drain('of the warm-up', destinations(warm));
  await timed('api', api, { kind: 'check', ...load, targets: nonEmpty(checkTargets(warm.created ?? []), 'warm-up verification') }, worker);
  /** A timed phase of the API, with a CPU profile of its own under BENCH_CPU_PROF. */
  const profiledPhase = (phase: string, job: LoadJob) => api.profiled(phase, () => timed('api', api, job, worker), profiles);
  const send = await profiledPhase('api-send', { kind: 'send', ...load, durationSeconds: DURATION, prefix: `${prefix}-send` });
  const delivery = await drain('of the send phase', destinations(send), 'worker-drain');
  const check = await profiledPhase('api-check', {
    kind: 'check',
    ...load,
    targets: nonEmpty(checkTargets(send.created ?? []), 'verification'),
  });

  // 3. Half load, with the GC pauses of each phase: at nine tenths of a core busy, a pause is paid again by every
  // request that queues behind it until the backlog drains.
  const withGcPauses = async (work: () => Promise<Measured>): Promise<Measured> => {
    const before = await gcPauses(url);
    const measured = await work();
    return { ...measured, gc: gcPausesBetween(before, await gcPauses(url)) };
  };
  const halfSend = await withGcPauses(() =>
    profiledPhase('api-half-send', {
      kind: 'send',
      ...load,
      durationSeconds: DURATION,
      rate: HALF * send.requestsPerSecond,
      prefix: `${prefix}-half`,
    }),
  );
  await drain('of the half-load sends', destinations(halfSend));
  const halfCheck = await withGcPauses(() =>
    profiledPhase('api-half-check', {
      kind: 'check',
      ...load,
      rate: HALF * check.requestsPerSecond,
      targets: nonEmpty(checkTargets(halfSend.created ?? []), 'half-load verification'),
    }),
  );

  // 4. Passwordless sign-in: each seeded account starts once, so no per-destination limit or cooldown binds.
  const accounts = new AccountSeeder(databaseUrl);
  closers.push(() => accounts.close());
  const profiledIf = (phase: string | undefined, work: () => Promise<Measured>) => (phase ? api.profiled(phase, work, profiles) : work());
  const signIn = async (durationSeconds: number, perSecond: number, phase?: string) => {
    await accounts.seedThrough(accounts.used + Math.ceil(perSecond * durationSeconds));
    const started = await profiledIf(phase && `${phase}-start`, () =>
      timed('api', api, { kind: 'otp-start', url, connections: CONNECTIONS, durationSeconds, first: accounts.used }, worker),
    );
    accounts.used += started.used;
    if (accounts.used > accounts.seeded) note(`otp/start went past the ${accounts.seeded} seeded accounts: raise ACCOUNTS_PER_SECOND`);
    await drain(phase ? 'of the otp/start phase' : 'of the warm-up otp/start', destinations(started));
    const targets = nonEmpty(signInTargets(started.created ?? []), 'sign-in challenge');
    const verified = await profiledIf(phase && `${phase}-verify`, () =>
      timed('api', api, { kind: 'otp-verify', url, connections: CONNECTIONS, targets }, worker),
    );
    return { started, verified };
  };
  const warmSignIn = await signIn(WARMUP_SECONDS, ACCOUNTS_PER_SECOND);
  const { started: otpStart, verified: otpVerify } = await signIn(
    DURATION,
    Math.max(ACCOUNTS_PER_SECOND, 1.5 * warmSignIn.started.requestsPerSecond),
    'api-otp',
  );

  // 5. Delivery latency with the queue running.
  await queue.resume();
  const latency = await measureDeliveryLatency(url, sink);

  const result = {
    send,
    check,
    halfSend,
    halfCheck,
    otpStart,
    otpVerify,
    drain: delivery,
    latency,
    memory,
    apiPeakRss: api.peakRssBytes(),
    workerPeakRss: worker.peakRssBytes(),
  };
  // Still running: the paired rounds measure these processes again, warmed as they are now.
  return { result, processes: { api, worker, url, queue, drain } };
}

/** The service's API process, its worker, and the worker's drain, as its phases leave them. */
interface ServiceProcesses {
  api: ServerProcess;
  worker: ServerProcess;
  url: string;
  queue: DeliveryQueueControl;
  drain: ReturnType<typeof drainer>;
}

/** One side of a paired round: its requests per second at saturation, and where the machine's CPU went per request. */
interface RoundSide {
  send: number;
  check: number;
  sendCost: RequestCost;
  checkCost: RequestCost;
}

/**
 * Where the machine's CPU went over a round's phase, per request answered, in ms: the server measured (the service's
 * API process, or the floor), the service's worker (its queue paused: 0 for the floor), Redis, the load client, the
 * rest of what the machine ran (the benchmark itself, the load client's start-up, the other side's idle server, the
 * system), its idle time and the time the hypervisor gave other machines (steal).
 */
interface RequestCost {
  server: number;
  worker: number;
  redis: number;
  load: number;
  rest: number;
  /** The machine's busy time in all. */
  busy: number;
  idle: number;
  steal: number;
}

/** A phase and its `RequestCost`. */
interface CostedPhase {
  measured: Measured;
  cost: RequestCost;
}

/** The service and the floor, one round each, and the service/floor ratios over all rounds. */
interface RatioRounds {
  rounds: { floor: RoundSide; service: RoundSide }[];
  send: PairedRatio;
  check: PairedRatio;
}

/**
 * The service/floor ratios the two ratio targets are judged on, in BENCH_RATIO_ROUNDS paired rounds. The table's
 * phases measure the service in some minutes and the floor in others, and on a shared machine the same code's
 * figures moved by more than the targets' margins between runs (an API process cost 0.28 ms of CPU a send in one
 * run and 0.47 ms in the next) and within one (the floor sent 6,444 req/s before the service and 8,147 after). Here
 * the service's own processes, warmed by its phases, and a floor started and warmed beside them are measured in
 * turn, the order alternating between rounds: RATIO_SECONDS of sends at saturation and a check of each, half with
 * its real code (for the service, after the worker's drain of those sends, the queue paused while the API is
 * measured as in the table's phases). The ratios are taken round by round, as `npm run bench:compare` takes its
 * builds', so what the machine did to a round it did to both sides, and the rounds' spread gives the interval.
 * Not on processes started afresh each round: a process warmed for a few seconds is not yet the service at its
 * steady state (one such try measured its sends at 0.43 of the floor where the same run's table had 0.54).
 */
async function measureRatioRounds(
  service: ServiceProcesses,
  redis: Redis,
  sink: SmtpSink,
  serviceEnv: Record<string, string>,
  nodeArgs: string[],
  scratch: string,
  servers: ServerProcess[],
): Promise<RatioRounds> {
  // The delivery-latency phase left the queue running.
  await service.queue.pause();
  const floor = ServerProcess.start('floor', [...nodeArgs, join(HERE, 'framework-floor.js')], serviceEnv, scratch);
  servers.push(floor);
  const tag = randomBytes(3).toString('hex');
  try {
    const floorUrl = await floor.listening();
    const base = { connections: CONNECTIONS, apiKey: API_KEY, durationSeconds: RATIO_SECONDS };
    // Warmed as the table's floor run is: the framework alone settles within seconds.
    const warm = await warmUp('floor', floor, floorUrl, `ratio-${tag}-warm`);
    await timed('floor', floor, { kind: 'check', url: floorUrl, ...base, targets: floorTargetsOf(warm.created) });
    const costed = (name: string, server: ServerProcess, job: LoadJob, bystander?: ServerProcess) =>
      withCost(redis, () => timed(name, server, job, bystander));
    const sides = {
      floor: async (round: number): Promise<RoundSide> => {
        const url = floorUrl;
        const sent = await costed('floor', floor, { kind: 'send', url, ...base, prefix: `ratio-${tag}-${round}-floor` });
        const checked = await costed('floor', floor, { kind: 'check', url, ...base, targets: floorTargetsOf(sent.measured.created) });
        return roundSide(sent, checked);
      },
      service: async (round: number): Promise<RoundSide> => {
        const { api, worker, url, drain } = service;
        const sent = await costed('api', api, { kind: 'send', url, ...base, prefix: `ratio-${tag}-${round}-api` }, worker);
        await drain(
          `of paired round ${round + 1}`,
          (sent.measured.created ?? []).map(([to]) => to),
        );
        const targets = checkTargetsOf(sink, sent.measured.created ?? []);
        if (targets.length === 0) throw new Error(`paired round ${round + 1}: no verification with a known code`);
        const checked = await costed('api', api, { kind: 'check', url, ...base, targets }, worker);
        return roundSide(sent, checked);
      },
    };
    const rounds: RatioRounds['rounds'] = [];
    for (let round = 0; round < RATIO_ROUNDS; round++) {
      note(`paired round ${round + 1} of ${RATIO_ROUNDS}`);
      const order = round % 2 === 0 ? (['floor', 'service'] as const) : (['service', 'floor'] as const);
      const measured: Partial<Record<'floor' | 'service', RoundSide>> = {};
      for (const side of order) measured[side] = await sides[side](round);
      rounds.push({ floor: measured.floor!, service: measured.service! });
      note(
        `paired round ${round + 1}: service/floor send ${ratio(measured.service!.send / measured.floor!.send)}, ` +
          `check ${ratio(measured.service!.check / measured.floor!.check)}`,
      );
    }
    const of = (key: 'send' | 'check') =>
      pairedRatio(
        rounds.map((round) => round.service[key]),
        rounds.map((round) => round.floor[key]),
      );
    return { rounds, send: of('send'), check: of('check') };
  } finally {
    await floor.stop();
  }
}

/** A phase, with where the machine's CPU went over it per request (`RequestCost`). */
async function withCost(redis: Redis, phase: () => Promise<Measured>): Promise<CostedPhase> {
  const machineBefore = machineCpu();
  const redisBefore = await redisCpuMs(redis);
  const measured = await phase();
  const redisMs = (await redisCpuMs(redis)) - redisBefore;
  const machine = machineCpu();
  const perRequest = (ms: number) => ms / Math.max(1, measured.requests);
  const cost = {
    server: measured.cpuMsPerRequest,
    worker: perRequest(measured.bystanderCpuMs ?? 0),
    redis: perRequest(redisMs),
    load: perRequest(measured.cpuMs),
    idle: perRequest(machine.idleMs - machineBefore.idleMs),
    steal: perRequest(machine.stealMs - machineBefore.stealMs),
  };
  const busy = perRequest(machine.busyMs - machineBefore.busyMs);
  return { measured, cost: { ...cost, busy, rest: Math.max(0, busy - cost.server - cost.worker - cost.redis - cost.load) } };
}

function roundSide(sent: CostedPhase, checked: CostedPhase): RoundSide {
  return {
    send: sent.measured.requestsPerSecond,
    check: checked.measured.requestsPerSecond,
    sendCost: sent.cost,
    checkCost: checked.cost,
  };
}

/**
 * Accounts for passwordless login, written to the database directly with the service's schema (an email
 * address verified, no password, as a sign-up leaves them): the API's sign-up would spend its time on
 * password hashing and sending codes, which is not what is measured here.
 */
class AccountSeeder {
  seeded = 0;
  used = 0;
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  }

  async seedThrough(count: number): Promise<void> {
    if (count <= this.seeded) return;
    note(`seeding accounts ${this.seeded} to ${count - 1}`);
    const db = drizzle({ client: this.pool });
    const verifiedAt = new Date();
    for (let from = this.seeded; from < count; from += 5000) {
      const rows = Array.from({ length: Math.min(5000, count - from) }, (_, i) => ({
        email: accountEmail(from + i),
        emailVerifiedAt: verifiedAt,
      }));
      await db.insert(users).values(rows);
    }
    this.seeded = count;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** The send route with SMS, as two otherwise identical processes see it: the fraud guard off, and on. */
interface GuardResult {
  off: Measured;
  on: Measured;
}

/** A half-load phase's GC pauses, as the line below the half-load table gives them. */
function gcLine(gc: GcPauses, durationSeconds: number): string {
  const kind = (name: string, { count, seconds, over10ms }: GcPauses['minor']) =>
    `${count} ${name} (${(seconds * 1000).toFixed(0)} ms, mean ${((seconds * 1000) / Math.max(1, count)).toFixed(1)} ms, ${over10ms} over 10 ms)`;
  const share = (gc.minor.seconds + gc.major.seconds) / Math.max(0.001, durationSeconds);
  return `${kind('scavenges', gc.minor)}, ${kind('mark-compacts', gc.major)}; ${(share * 100).toFixed(1)} % of the phase paused`;
}

/**
 * prom-client's `nodejs_gc_duration_seconds` from the service's /metrics (taken outside the timed phases): each
 * pause's length as V8 reports it to perf_hooks, counted and summed by kind, with the histogram's 10 ms bucket.
 */
async function gcPauses(url: string): Promise<GcPauses> {
  const lines = (await (await fetch(`${url}/metrics`)).text()).split('\n');
  const value = (series: string, kind: string, le?: string) => {
    const line = lines.find(
      (candidate) =>
        candidate.startsWith(`nodejs_gc_duration_seconds_${series}{`) &&
        candidate.includes(`kind="${kind}"`) &&
        (le === undefined || candidate.includes(`le="${le}"`)),
    );
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const of = (kind: string) => {
    const count = value('count', kind);
    return { count, seconds: value('sum', kind), over10ms: count - value('bucket', kind, '0.01') };
  };
  return { minor: of('minor'), major: of('major') };
}

function gcPausesBetween(before: GcPauses, after: GcPauses): GcPauses {
  const between = (kind: keyof GcPauses) => ({
    count: after[kind].count - before[kind].count,
    seconds: after[kind].seconds - before[kind].seconds,
    over10ms: after[kind].over10ms - before[kind].over10ms,
  });
  return { minor: between('minor'), major: between('major') };
}

/**
 * The fraud guard off (nothing to check: no call to Redis) and on (every cap and the suspension rule
 * checked and counted on every send, with limits no send reaches, so nothing is refused and both do
 * the same work besides). Both processes run from the start; their timed phases alternate (off, on, on, off),
 * each on a machine where the other is idle and every earlier send has been delivered.
 */
async function measureFraudGuard(
  serviceEnv: Record<string, string>,
  nodeArgs: string[],
  scratch: string,
  twilio: FakeTwilio,
  servers: ServerProcess[],
  profiles: Map<string, string>,
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
      // With BENCH_CPU_PROF=1 each timed phase is profiled: guard-on-1 less guard-off-1 is what the guard costs, by function.
      const profiler = phaseProfiler();
      const server = ServerProcess.start(
        name,
        [...nodeArgs, ...profiler.args, MAIN_JS],
        { ...serviceEnv, ...env, ...profiler.env },
        scratch,
      );
      servers.push(server);
      const url = await server.listening();
      await waitUntil(async () => (await fetch(`${url}/health/ready`)).status === 200, 120_000, `${name} to be ready`);
      return { name, server, url };
    }),
  );
  let first = 0;
  let sent = twilio.messages.length;
  const phase = async ({ name, server, url }: (typeof started)[number], durationSeconds: number, round?: number): Promise<Measured> => {
    const sms: SmsNumbers = { first };
    note(`${name}: sms send`);
    const cpuBefore = server.cpuMs();
    const work = () => load({ kind: 'send', url, connections: CONNECTIONS, durationSeconds, apiKey: API_KEY, prefix: name, sms });
    const result = round === undefined ? await work() : await server.profiled(`${name}-${round + 1}`, work, profiles);
    const cpuMsPerRequest = (server.cpuMs() - cpuBefore) / Math.max(1, result.requests);
    // Requests still in flight when the phase ended took numbers too: the next phase starts past them.
    first += result.used;
    sent += result.created?.length ?? 0;
    note(`${name}: sms send done, ${result.requestsPerSecond.toFixed(0)} req/s; waiting for its texts to be delivered`);
    await waitUntil(() => twilio.messages.length >= sent, 120_000, `${name}'s texts to arrive`, false);
    return { ...result, cpuMsPerRequest };
  };
  const [guardOff, guardOn] = started as [(typeof started)[number], (typeof started)[number]];
  // Warmed in the order the timed phases take (off, on, on, off). With one warm-up each, the machine's own warming
  // (the load client's, the fake Twilio's, Redis's) went on into the third timed phase and favoured the middle two,
  // the guard's: two processes alike, both with the guard off, measured 1.00-1.13 x (four fresh pairs, mean 1.07).
  for (const target of [guardOff, guardOn, guardOn, guardOff]) await phase(target, WARMUP_SECONDS);
  const rounds: [Measured, Measured][] = [];
  for (let round = 0; round < 2; round++) {
    // Off then on, then on then off: a machine that drifts over the four phases weighs on both alike.
    if (round % 2 === 0) rounds.push([await phase(guardOff, DURATION, round), await phase(guardOn, DURATION, round)]);
    else {
      const on = await phase(guardOn, DURATION, round);
      rounds.push([await phase(guardOff, DURATION, round), on]);
    }
  }
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
    used: phases.reduce((sum, phase) => sum + phase.used, 0),
    cpuMs: phases.reduce((sum, phase) => sum + phase.cpuMs, 0),
  };
}

/**
 * Time from the 201 to the message's last byte at the SMTP server, for sends paced at a steady
 * 50 per second (one client, this process: both timestamps come from the same clock).
 */
async function measureDeliveryLatency(url: string, sink: SmtpSink): Promise<ServiceResult['latency']> {
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
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), measured: latencies.length };
}

/** The floor at saturation before the service and after it. */
interface FloorRuns {
  before: YardstickResult;
  after: YardstickResult;
}

/** The floor's req/s for the service/floor ratios: the geometric mean of its run before the service and its run after. */
function floorRate(floor: FloorRuns, key: 'send' | 'check'): number {
  return Math.sqrt(floor.before[key].requestsPerSecond * floor.after[key].requestsPerSecond);
}

function printTable(
  service: ServiceResult,
  baseline: YardstickResult,
  floorRuns: FloorRuns,
  ratioRounds: RatioRounds | undefined,
  halfLoad: { baseline: YardstickResult; floor: YardstickResult; ownFloor: YardstickResult; ownBaseline: YardstickResult },
  guard: GuardResult,
  profiles: Map<string, string>,
): void {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  // The run before the service is the one the half-load rows and the profile compare with.
  const floor = floorRuns.before;
  const sleeps = ({ sleepsPerRequest }: Measured) => (sleepsPerRequest === undefined ? '-' : sleepsPerRequest.toFixed(2));
  const waited = ({ waitedShare }: Measured) => (waitedShare === undefined ? '-' : `${(100 * waitedShare).toFixed(1)} %`);
  const lateOf = ({ late, requests }: Measured) =>
    late === undefined ? '-' : `${((100 * late.count) / Math.max(1, requests)).toFixed(1)} % (${late.longestRunMs.toFixed(0)} ms)`;
  const blank = ['', '', '', '', '', '', '', '', ''];
  const saturation = (label: string, measured: Measured, key?: 'send' | 'check') => [
    label,
    measured.requestsPerSecond.toFixed(0),
    ms(measured.p50),
    ms(measured.p99),
    ms(measured.cpuMsPerRequest),
    ...(key
      ? [
          floor[key].requestsPerSecond.toFixed(0),
          ms(floor[key].p99),
          ms(floor[key].cpuMsPerRequest),
          baseline[key].requestsPerSecond.toFixed(0),
          ms(baseline[key].p99),
          ms(baseline[key].cpuMsPerRequest),
          ratio(measured.requestsPerSecond / floorRate(floorRuns, key)),
          ratio(measured.requestsPerSecond / baseline[key].requestsPerSecond),
        ]
      : blank.slice(1)),
  ];
  const out: string[] = [];
  const { runtime } = ServerProcess;
  out.push(
    '',
    `otp-gateway benchmark: ${CONNECTIONS} connections, ${DURATION} s per timed phase, servers on node ${runtime.version} ` +
      `(${runtime.source}), load client on node ${process.version}`,
  );
  if (runtime.mismatch) out.push(`NOT PRODUCTION'S RUNTIME: ${runtime.mismatch} (set BENCH_NODE)`);
  out.push(
    'service: an API process (DELIVERY_WORKER=false) and a delivery worker process (DELIVERY_WORKER=true), NODE_ENV=production;',
    "the delivery queue is paused while the API is measured, and the worker drains each phase's messages after it, the API idle",
    '',
    "at saturation (CPU/req: the process's CPU time per request over the phase)",
    '',
    ...formatTable([
      [
        'route',
        'service req/s',
        'p50',
        'p99',
        'CPU/req',
        'floor req/s',
        'p99',
        'CPU/req',
        'baseline req/s',
        'p99',
        'CPU/req',
        'service/floor',
        'service/baseline',
      ],
      saturation('POST /v1/verifications', service.send, 'send'),
      saturation('POST /v1/verifications/check', service.check, 'check'),
      saturation('POST /v1/auth/otp/start', service.otpStart),
      saturation('POST /v1/auth/otp/verify', service.otpVerify),
    ]),
    '',
    ...floorLines(service, floorRuns, ratioRounds ? 'rounds' : 'table'),
    ...(ratioRounds ? ratioRoundLines(ratioRounds) : []),
    "framework floor: the service's HTTP pipeline (Nest on Fastify, request ids and log line, histogram, validation,",
    'error filter, API-key guard) around the same POST routes, validating their bodies and doing nothing else;',
    'baseline: bare Fastify + ioredis doing the least Redis work a send and a check need',
    '',
    `at half load: a fixed rate of ${HALF} x the service's saturation req/s of the route, and the floor and the baseline`,
    `at that same rate; "floor, own half": the floor at ${HALF} x its own saturation req/s, the framework's latency at half`,
    'its capacity; "baseline, own half": the baseline at half its own, a server that waits on Redis for every request',
    '(CPU/req ÷ saturation: its CPU per request over its own at saturation; busy: the cores the server',
    'process kept busy, CPU/req x achieved req/s: fewer requests share each wakeup than at saturation, so half the',
    'rate is more than half the work; sleeps/req: how often its main thread went to sleep for want of work, per request,',
    'at saturation and at half load, each sleep a wakeup that the requests it serves pay for together; late: the share',
    `of answers over ${TARGETS.halfLoadP99Ms} ms after their request was due, and the longest run of such answers one after another,`,
    'from the first one due to the last answered: a few long runs are a server behind its load for that long, short',
    'ones are pauses; waited: the share of the phase its main thread had work and waited for a core, at saturation',
    'and at half load, the time the rest of the machine (the load client, Redis) had the cores)',
    '',
    ...formatTable([
      [
        'route',
        'server',
        'rate req/s',
        'achieved req/s',
        'p50',
        'p99',
        'CPU/req',
        'CPU/req ÷ saturation',
        'busy',
        'sleeps/req',
        'late (longest run)',
        'waited',
      ],
      ...(
        [
          ['POST /v1/verifications', 'send'],
          ['POST /v1/verifications/check', 'check'],
        ] as const
      ).flatMap(([label, key]) =>
        (
          [
            ['service', key === 'send' ? service.halfSend : service.halfCheck, service[key], service[key]],
            ['floor', halfLoad.floor[key], floor[key], service[key]],
            ['baseline', halfLoad.baseline[key], baseline[key], service[key]],
            ['floor, own half', halfLoad.ownFloor[key], floor[key], floor[key]],
            ['baseline, own half', halfLoad.ownBaseline[key], baseline[key], baseline[key]],
          ] as const
        ).map(([server, half, full, paced], row) => [
          row === 0 ? label : '',
          server,
          (HALF * paced.requestsPerSecond).toFixed(0),
          half.requestsPerSecond.toFixed(0),
          ms(half.p50),
          ms(half.p99),
          ms(half.cpuMsPerRequest),
          ratio(half.cpuMsPerRequest / full.cpuMsPerRequest),
          `${((half.cpuMsPerRequest * half.requestsPerSecond) / 1000).toFixed(2)} core`,
          `${sleeps(full)} -> ${sleeps(half)}`,
          lateOf(half),
          `${waited(full)} -> ${waited(half)}`,
        ]),
      ),
    ]),
    ...(
      [
        ['send', service.halfSend],
        ['check', service.halfCheck],
      ] as const
    ).flatMap(([route, { gc, durationSeconds }]) =>
      gc ? [`service's GC pauses over its half-load ${route}s: ${gcLine(gc, durationSeconds)}`] : [],
    ),
    '',
  );
  const { drain, latency, memory } = service;
  const perVerification = (bytes: number) => bytes / Math.max(1, memory.verifications);
  const redisDelivered = perVerification(memory.delivered - memory.before);
  const timedPhases = [service.send, service.check, service.halfSend, service.halfCheck, service.otpStart, service.otpVerify];
  const workerMeanwhile = timedPhases.reduce((sum, phase) => sum + (phase.bystanderCpuMs ?? 0), 0);
  out.push(
    `delivery worker (SMTP): ${drain.messages} of ${drain.queued} emails of the send phase in ${drain.seconds.toFixed(1)} s, ` +
      `${drain.perSecond.toFixed(0)} emails/s, ${ms(drain.cpuMsPerEmail)} CPU per email`,
    `delivery, 201 -> message at the SMTP server, queue running: p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)} ` +
      `(${latency.measured} sends, one every ${LATENCY_INTERVAL_MS} ms)`,
    ...(MEMORY_VERIFICATIONS === 0
      ? ['Redis used_memory per verification: not measured (BENCH_MEMORY_VERIFICATIONS=0)']
      : [
          `Redis used_memory per verification (${memory.verifications} created on a flushed Redis): ` +
            `${perVerification(memory.queued - memory.before).toFixed(0)} B queued, ${redisDelivered.toFixed(0)} B pending after delivery`,
          `  by kind of key after delivery, MEMORY USAGE per verification (the rest of used_memory is Redis' own bookkeeping per key): ` +
            memory.byKind.map(({ kind, keys, bytes }) => `${kind} ${perVerification(bytes).toFixed(0)} B (${keys} keys)`).join(', '),
        ]),
    `worker CPU while the API was measured (queue paused): ${workerMeanwhile} ms over the six timed phases`,
    `peak RSS (VmHWM): API ${mb(service.apiPeakRss)}, worker ${mb(service.workerPeakRss)}, floor ${mb(floor.peakRss)}, baseline ${mb(baseline.peakRss)}`,
  );
  out.push('', ...guardLines(guard));
  const phases: [string, Measured][] = [
    ['guard off', guard.off],
    ['guard on', guard.on],
    ['baseline send', baseline.send],
    ['baseline check', baseline.check],
    ['floor send', floor.send],
    ['floor check', floor.check],
    ['floor send again', floorRuns.after.send],
    ['floor check again', floorRuns.after.check],
    ['service send', service.send],
    ['service check', service.check],
    ['service half-load send', service.halfSend],
    ['service half-load check', service.halfCheck],
    ['service otp/start', service.otpStart],
    ['service otp/verify', service.otpVerify],
  ];
  for (const [label, result] of phases) {
    if (result.unexpected > 0 || result.errors > 0 || result.timeouts > 0) {
      out.push(
        `WARNING ${label}: ${result.unexpected} unexpected statuses ${JSON.stringify(result.statuses)}, ${result.errors} errors, ${result.timeouts} timeouts`,
      );
    }
  }
  if (memory.seconds > CODE_LIFETIME_SECONDS) {
    out.push(
      `WARNING Redis memory: the phase took ${memory.seconds.toFixed(0)} s, longer than a code lives (${CODE_LIFETIME_SECONDS} s): ` +
        'verifications had expired before the reading, so it is too low; lower BENCH_MEMORY_VERIFICATIONS',
    );
  }
  if (drain.messages < drain.queued) out.push(`WARNING delivery: ${drain.queued - drain.messages} emails of the send phase never arrived`);
  if (profiles.size > 0) {
    out.push('', 'profiles (node bench/.build/bench/profile-top.js <file>):');
    for (const [phase, file] of profiles) out.push(`  ${phase.padEnd(23)} ${relative(ROOT, file)}`);
    for (const [route, saturation, half] of [
      ['send', service.send, service.halfSend],
      ['check', service.check, service.halfCheck],
    ] as const) {
      const files = [profiles.get(`api-${route}`), profiles.get(`api-half-${route}`)];
      if (files[0] && files[1])
        out.push('', ...halfLoadProfileLines(route, { file: files[0], ...saturation }, { file: files[1], ...half }));
    }
  }
  const under = (bytes: number) => bytes < TARGETS.peakRssBytes;
  /** `undefined`: the run did not measure it. */
  const targets: [string, boolean | undefined][] = [
    ofFloorTarget('send', TARGETS.sendOfFloor, service, floorRuns, ratioRounds),
    ofFloorTarget('check', TARGETS.checkOfFloor, service, floorRuns, ratioRounds),
    [
      `delivery CPU <= ${TARGETS.deliveryCpuMsPerEmail} ms per email (${ms(drain.cpuMsPerEmail)})`,
      drain.cpuMsPerEmail <= TARGETS.deliveryCpuMsPerEmail && drain.messages === drain.queued,
    ],
    [
      `send p99 < ${TARGETS.halfLoadP99Ms} ms at half load (${ms(service.halfSend.p99)}; at half their own: the floor ${ms(halfLoad.ownFloor.send.p99)}, the baseline ${ms(halfLoad.ownBaseline.send.p99)})`,
      service.halfSend.p99 < TARGETS.halfLoadP99Ms,
    ],
    [
      `check p99 < ${TARGETS.halfLoadP99Ms} ms at half load (${ms(service.halfCheck.p99)}; at half their own: the floor ${ms(halfLoad.ownFloor.check.p99)}, the baseline ${ms(halfLoad.ownBaseline.check.p99)})`,
      service.halfCheck.p99 < TARGETS.halfLoadP99Ms,
    ],
    [`API peak RSS < ${mb(TARGETS.peakRssBytes)} (${mb(service.apiPeakRss)})`, under(service.apiPeakRss)],
    [`worker peak RSS < ${mb(TARGETS.peakRssBytes)} (${mb(service.workerPeakRss)})`, under(service.workerPeakRss)],
    [
      `Redis <= ${TARGETS.redisBytesPerVerification} B per pending verification (${MEMORY_VERIFICATIONS === 0 ? 'none created' : `${redisDelivered.toFixed(0)} B`})`,
      // Not met on a reading that missed expired verifications.
      MEMORY_VERIFICATIONS === 0
        ? undefined
        : redisDelivered <= TARGETS.redisBytesPerVerification && memory.verifications > 0 && memory.seconds <= CODE_LIFETIME_SECONDS,
    ],
    [
      `otp/verify CPU < ${TARGETS.signInCpuMs} ms per sign-in (${ms(service.otpVerify.cpuMsPerRequest)})`,
      service.otpVerify.cpuMsPerRequest < TARGETS.signInCpuMs,
    ],
    guardTarget(guard),
  ];
  out.push('', 'targets:', ...targets.map(targetLine), '');
  console.log(out.join('\n'));
}

/**
 * The floor's two runs at saturation, each with the service's ratio to it: how far the machine moved while the
 * service was measured between them.
 */
function floorLines(service: ServiceResult, floor: FloorRuns, judged: 'rounds' | 'table'): string[] {
  const runs = (key: 'send' | 'check') => {
    const [before, after] = [floor.before[key].requestsPerSecond, floor.after[key].requestsPerSecond];
    const { requestsPerSecond } = service[key];
    return (
      `${key} ${before.toFixed(0)} and ${after.toFixed(0)} req/s ` +
      `(service/floor ${ratio(requestsPerSecond / before)} and ${ratio(requestsPerSecond / after)})`
    );
  };
  return [
    `floor at saturation before the service and after it: ${runs('send')}, ${runs('check')}; the floor`,
    judged === 'table'
      ? "columns are the run before, the service/floor column and the targets take the two runs' geometric mean"
      : "columns are the run before, the service/floor column takes the two runs' geometric mean (the targets: the paired rounds')",
    '',
  ];
}

/** Each paired round's req/s at saturation, and the service/floor ratios over the rounds with their 95 % intervals. */
function ratioRoundLines({ rounds, send, check }: RatioRounds): string[] {
  const interval = ({ interval }: PairedRatio) => (interval ? `${ratio(interval.low)}-${ratio(interval.high)}` : '-');
  return [
    `service/floor in ${rounds.length} paired rounds: the service's processes after its phases and a floor beside them, measured`,
    `in turn, the order alternating: ${RATIO_SECONDS} s of sends at saturation, then a check of each, half with its real code`,
    '',
    ...formatTable([
      ['round', 'floor send/s', 'service send/s', 'service/floor', 'floor check/s', 'service check/s', 'service/floor'],
      ...rounds.map(({ floor, service }, i) => [
        String(i + 1),
        floor.send.toFixed(0),
        service.send.toFixed(0),
        ratio(service.send / floor.send),
        floor.check.toFixed(0),
        service.check.toFixed(0),
        ratio(service.check / floor.check),
      ]),
    ]),
    `over the rounds (geometric mean, 95 % interval): send ${ratio(send.ratio)} (${interval(send)}), ` +
      `check ${ratio(check.ratio)} (${interval(check)}); the two ratio targets are judged on these`,
    '',
    ...roundCostLines(rounds),
  ];
}

/**
 * The rounds' machine time per request (`RequestCost`), each the median over the rounds. While the machine has idle
 * time, a side's requests per second are bounded by its server's own CPU per request (its main thread's work, and
 * its GC helpers'), so the floor's server CPU over the service's is the ratio that work alone explains; with every
 * core busy, it is what a request takes of the whole machine, Redis's work and the load client's included.
 */
function roundCostLines(rounds: RatioRounds['rounds']): string[] {
  const costOf = (side: 'floor' | 'service', key: 'sendCost' | 'checkCost', part: keyof RequestCost) =>
    median(rounds.map((round) => round[side][key][part]));
  const columns: (keyof RequestCost)[] = ['server', 'worker', 'redis', 'load', 'rest', 'busy', 'idle', 'steal'];
  const costKey = { send: 'sendCost', check: 'checkCost' } as const;
  const rows = (['send', 'check'] as const).flatMap((route) =>
    (['floor', 'service'] as const).map((side) => {
      const key = costKey[route];
      return [`${side} ${route}`, ...columns.map((part) => costOf(side, key, part).toFixed(3))];
    }),
  );
  const explained = (route: 'send' | 'check') => {
    const key = costKey[route];
    const server = costOf('floor', key, 'server') / costOf('service', key, 'server');
    const busy = costOf('floor', key, 'busy') / costOf('service', key, 'busy');
    return `${route} ${ratio(server)} (the machine's busy time: ${ratio(busy)})`;
  };
  return [
    `the machine's CPU per request in the rounds, ms (medians over the rounds; ${availableParallelism()} cores): the server measured, ` +
      `the service's worker, Redis, the load client, the rest (the benchmark, the other side's idle server, the system), ` +
      `all of it, idle, steal`,
    '',
    ...formatTable([['round side', 'server', 'worker', 'Redis', 'load client', 'rest', 'busy', 'idle', 'steal'], ...rows]),
    `the floor's server CPU per request over the service's (the ratio a server bound by its own CPU would give): ` +
      `${explained('send')}, ${explained('check')}`,
    '',
  ];
}

/**
 * A service/floor target, judged on the paired rounds' ratio (their geometric mean) where the run had rounds, and on
 * the table's phases otherwise; the line gives both, and the rounds' interval.
 */
function ofFloorTarget(
  key: 'send' | 'check',
  wanted: number,
  service: ServiceResult,
  floorRuns: FloorRuns,
  rounds: RatioRounds | undefined,
): [string, boolean] {
  const table = service[key].requestsPerSecond / floorRate(floorRuns, key);
  const paired = rounds?.[key];
  if (!paired) return [`${key} >= ${wanted} x floor (${ratio(table)})`, table >= wanted];
  const interval = paired.interval ? `, 95 % interval ${ratio(paired.interval.low)}-${ratio(paired.interval.high)}` : '';
  return [
    `${key} >= ${wanted} x floor (${ratio(paired.ratio)} over ${rounds.rounds.length} paired rounds${interval}; the table's phases ${ratio(table)})`,
    paired.ratio >= wanted,
  ];
}

/** How many packages, and how many functions, the half-load profile tables list. */
const PROFILE_ROWS = 12;

/**
 * With BENCH_CPU_PROF=1: the service's CPU per request of a route at saturation and at half load, from the two phases'
 * profiles, by package and by function, with the one over the other: whether what a request costs more at half load
 * is some function's doing (a timer, a poll) or every function's (each request served alone, on caches the load
 * client and Redis had in between). Time the process spent idle is left out; the profiler's own cost is in both.
 */
function halfLoadProfileLines(
  route: string,
  saturation: { file: string; requests: number },
  half: { file: string; requests: number },
): string[] {
  const atSaturation = summarizeProfile(saturation.file);
  const atHalf = summarizeProfile(half.file);
  const perRequest = (micros: number | undefined, requests: number) => (micros ?? 0) / Math.max(1, requests);
  const rowsOf = (table: 'byPackage' | 'byFunction') =>
    [...atHalf[table]]
      .filter(([name]) => name !== IDLE && !name.startsWith(`${IDLE} `))
      .sort((a, b) => b[1] - a[1])
      .slice(0, PROFILE_ROWS)
      .map(([name, micros]) => {
        const before = perRequest(atSaturation[table].get(name), saturation.requests);
        const after = perRequest(micros, half.requests);
        return [
          name.length > 70 ? `${name.slice(0, 69)}…` : name,
          before.toFixed(1),
          after.toFixed(1),
          before > 0 ? ratio(after / before) : '-',
        ];
      });
  const busy = (summary: ProfileSummary, requests: number) => perRequest(summary.total - (summary.byPackage.get(IDLE) ?? 0), requests);
  const [busyBefore, busyAfter] = [busy(atSaturation, saturation.requests), busy(atHalf, half.requests)];
  return [
    `the service's ${route}s, profiled: µs of CPU per request at saturation and at half load, by package and by function`,
    '',
    ...formatTable([
      ['package', 'saturation', 'half load', 'half ÷ saturation'],
      ['all of it', busyBefore.toFixed(1), busyAfter.toFixed(1), ratio(busyAfter / busyBefore)],
      ...rowsOf('byPackage'),
    ]),
    '',
    ...formatTable([['function', 'saturation', 'half load', 'half ÷ saturation'], ...rowsOf('byFunction')]),
  ];
}

/** The fraud guard's table and its figure. */
function guardLines(guard: GuardResult): string[] {
  const cpuRatio = guard.on.cpuMsPerRequest / guard.off.cpuMsPerRequest;
  return [
    'fraud guard: POST /v1/verifications with SMS, two processes alike but for the guard, timed phases alternating (off, on, on, off)',
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
    `on/off: ${ratio(guardShare(guard))} of the throughput, ${ratio(cpuRatio)} x the CPU per send`,
  ];
}

function guardShare(guard: GuardResult): number {
  return guard.on.requestsPerSecond / guard.off.requestsPerSecond;
}

function guardTarget(guard: GuardResult): [string, boolean] {
  const share = guardShare(guard);
  return [`fraud guard keeps >= ${TARGETS.fraudGuardShare} of the SMS send throughput (${ratio(share)})`, share >= TARGETS.fraudGuardShare];
}

function targetLine([label, met]: [string, boolean | undefined]): string {
  return `  [${met === undefined ? 'not measured' : met ? 'met' : 'MISSED'}] ${label}`;
}

function ms(value: number): string {
  return `${value.toFixed(value < 1 ? 2 : 1)} ms`;
}

function ratio(value: number): string {
  return value.toFixed(2);
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

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
