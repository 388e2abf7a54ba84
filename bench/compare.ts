import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeTwilio } from '../test/support/fake-twilio.js';
import { RedisServer } from '../test/support/redis-server.js';
import { createScratchPostgresDatabase } from '../test/support/scratch-postgres.js';
import type { LoadJob } from './load-client.js';
import { median, pairedRatio } from './paired-ratio.js';
import { serverRuntime } from './runtime.js';
import {
  API_KEY,
  load,
  note,
  POSTGRES,
  ROOT,
  ServerProcess,
  serviceEnvironment,
  serviceNodeArgs,
  waitUntil,
  wrongCodes,
} from './server-process.js';
import { SmtpSink } from './smtp-sink.js';

/**
 * `npm run bench:compare -- <another checkout>`: the CPU per request and the requests per second at saturation of
 * this checkout's build against another's (each built: `npm run build` there), where `npm run bench`'s figures, a
 * run apart, differ by more than a change does on a shared machine. Both run as API processes
 * (DELIVERY_WORKER=false), with the benchmark's configuration, side by side on one Redis and PostgreSQL, and are
 * loaded in turn: each round, each sends BENCH_COMPARE_SENDS verifications at saturation, then checks every one of
 * them once with a wrong code (no worker delivers, so no code is known: every check counts a miss). The order
 * alternates between rounds, so both meet the machine alike. Each round starts both processes afresh (the other one
 * first every other round) and warms both before it measures either: a process keeps its own luck for as long as it
 * runs (where its code and heap landed, the core it was given), and with one process per build for the whole run,
 * the same build on both sides measured 1.17 x the CPU per check (95 % interval 1.09-1.26), a difference that was
 * none. Prints each round, then for each route and figure this build's over the other's round by round with its 95 %
 * interval (`pairedRatio`), and the medians. BENCH_COMPARE_ROUNDS (8), BENCH_COMPARE_SENDS (8000), BENCH_CONNECTIONS
 * (50); BENCH_OTHER_NODE_ARGS, the other's node flags instead of the image's (this checkout on both sides measures a
 * flag alone).
 */

const ROUNDS = Number(process.env.BENCH_COMPARE_ROUNDS ?? 8);
const SENDS = Number(process.env.BENCH_COMPARE_SENDS ?? 8000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const OTHER_NODE_ARGS = process.env.BENCH_OTHER_NODE_ARGS?.split(' ').filter(Boolean);

/**
 * What each round's figures are compared on: the CPU per request, which a change's cost or saving moves, and the
 * requests per second, which the ratio targets of `npm run bench` are: a change can spend CPU and still serve more
 * (or save CPU and serve fewer, as requests wait on one another).
 */
const FIGURES = [
  { key: 'cpuMs', label: 'CPU', format: (value: number) => `${value.toFixed(3)} ms` },
  { key: 'perSecond', label: 'req/s', format: (value: number) => `${Math.round(value)} req/s` },
] as const;

/** Sends (and as many checks) each fresh process takes before it is measured. */
const WARMUP_SENDS = 2000;

/** A route's figures in one round: the CPU per request, and the requests per second at saturation. */
interface Measured {
  cpuMs: number;
  perSecond: number;
}

interface Round {
  send: Measured;
  check: Measured;
}

interface Started {
  name: string;
  server: ServerProcess;
  url: string;
}

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) throw new Error('usage: npm run bench:compare -- <another checkout, built>');
  ServerProcess.runtime = serverRuntime(ROOT, note);
  note(`servers on node ${ServerProcess.runtime.version} (${ServerProcess.runtime.source})`);
  const [redis, sink, twilio] = await Promise.all([RedisServer.start(), SmtpSink.start(), FakeTwilio.start()]);
  const database = await createScratchPostgresDatabase(POSTGRES, 'otp_compare');
  const scratch = mkdtempSync(join(tmpdir(), 'otp-gateway-compare-'));
  const env = { ...serviceEnvironment({ redisUrl: redis.url, databaseUrl: database.url, smtp: sink, twilio }), DELIVERY_WORKER: 'false' };
  const builds = [
    { name: 'this', main: join(ROOT, 'dist/main.js'), nodeArgs: serviceNodeArgs() },
    { name: 'other', main: join(resolve(other), 'dist/main.js'), nodeArgs: OTHER_NODE_ARGS ?? serviceNodeArgs() },
  ];
  for (const { name, nodeArgs } of builds) note(`${name}: node ${nodeArgs.join(' ') || '(no flags)'}`);
  const rounds = new Map<string, Round[]>(builds.map(({ name }) => [name, []]));
  /** Both builds started afresh, the other one first every other round; stopped when `work` is done. */
  const withFreshServers = async (round: number, work: (servers: Started[]) => Promise<void>) => {
    const order = round % 2 === 0 ? builds : [...builds].reverse();
    const servers = order.map(({ name, main, nodeArgs }) => ({
      name,
      server: ServerProcess.start(name, [...nodeArgs, main], env, scratch),
    }));
    try {
      await work(
        await Promise.all(
          servers.map(async ({ name, server }) => {
            const url = await server.listening();
            await waitUntil(async () => (await fetch(`${url}/health/ready`)).status === 200, 120_000, `${name} to be ready`);
            return { name, server, url };
          }),
        ),
      );
    } finally {
      await Promise.all(servers.map(({ server }) => server.stop()));
    }
  };
  try {
    const measure = async (server: ServerProcess, job: LoadJob) => {
      const before = server.cpuMs();
      const result = await load(job);
      if (result.unexpected > 0) note(`${job.kind}: unexpected statuses ${JSON.stringify(result.statuses)}`);
      return { result, cpuMs: (server.cpuMs() - before) / Math.max(1, result.requests), perSecond: result.requestsPerSecond };
    };
    for (let round = 0; round < ROUNDS; round++) {
      await withFreshServers(round, async (started) => {
        const base = (target: Started) => ({ url: target.url, connections: CONNECTIONS, apiKey: API_KEY });
        // Each process's first thousands of requests are mostly the compiler's: both are warmed alike before either is measured.
        for (const target of started) {
          const warm = await load({ kind: 'send', ...base(target), amount: WARMUP_SENDS, prefix: `${target.name}-${round}-warm` });
          await load({ kind: 'check', ...base(target), targets: wrongCodes(warm.created) });
        }
        for (const target of started) {
          const sent = await measure(target.server, {
            kind: 'send',
            ...base(target),
            amount: SENDS,
            prefix: `${target.name}-${round}`,
          });
          const checked = await measure(target.server, { kind: 'check', ...base(target), targets: wrongCodes(sent.result.created) });
          // The figures only: each result holds every verification it created.
          rounds.get(target.name)!.push({
            send: { cpuMs: sent.cpuMs, perSecond: sent.perSecond },
            check: { cpuMs: checked.cpuMs, perSecond: checked.perSecond },
          });
          note(
            `round ${round + 1} ${target.name}: CPU per send ${sent.cpuMs.toFixed(3)} ms, per check ${checked.cpuMs.toFixed(3)} ms; ` +
              `${Math.round(sent.perSecond)} sends/s, ${Math.round(checked.perSecond)} checks/s`,
          );
        }
      });
    }
    const [mine, theirs] = builds.map(({ name }) => rounds.get(name)!) as [Round[], Round[]];
    console.log(
      `CPU per request and requests/s at saturation over ${ROUNDS} rounds of ${SENDS} sends and as many wrong-code checks; ` +
        `this: ${ROOT}, other: ${resolve(other)}`,
    );
    for (const route of ['send', 'check'] as const) {
      for (const figure of FIGURES) {
        const [these, others] = [mine, theirs].map((build) => build.map((r) => r[route][figure.key])) as [number[], number[]];
        const paired = pairedRatio(these, others);
        const interval = paired.interval
          ? `95 % interval ${paired.interval.low.toFixed(2)}-${paired.interval.high.toFixed(2)}: ${paired.shows ? 'a difference' : 'no difference these rounds can show'}`
          : 'one round: no interval';
        const higher = these.filter((value, i) => value > others[i]!).length;
        console.log(
          `  ${route.padEnd(5)} ${figure.label.padEnd(9)} ${paired.ratio.toFixed(2)} x the other's round by round (${interval}); ` +
            `medians this ${figure.format(median(these))}, other ${figure.format(median(others))}; this higher in ${higher} of ${ROUNDS} rounds`,
        );
      }
    }
  } finally {
    await Promise.all([redis.stop(), sink.stop(), twilio.close()]);
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
