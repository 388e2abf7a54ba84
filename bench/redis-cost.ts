import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_SCRIPTS } from '../src/redis/redis-scripts.js';
import { FakeTwilio } from '../test/support/fake-twilio.js';
import { RedisServer } from '../test/support/redis-server.js';
import { createScratchPostgresDatabase } from '../test/support/scratch-postgres.js';
import type { LoadJob, LoadResult } from './load-client.js';
import { redisCpuMs } from './machine-cpu.js';
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
 * `npm run bench:redis`: what a send and a check cost Redis, which shares the machine's cores with the service in
 * `npm run bench`, so its CPU per request counts against the service's throughput as the service's own does. One
 * API process (DELIVERY_WORKER=false) with the benchmark's configuration, warmed, then REDIS_COST_SENDS (8,000) sends
 * at saturation and a wrong-code check of each, each phase twice: once for Redis's CPU per request and its commands
 * (`INFO commandstats`: calls per request, µs per call, the scripts' own commands counted apart from the scripts),
 * once with every command in the slow log (`slowlog-log-slower-than 0`) for the time of each script, named as the
 * service names it (Bull's by their keys). The slow log's own bookkeeping makes that second pass slower: its
 * figures are for comparing the scripts with one another.
 */

const SENDS = Number(process.env.REDIS_COST_SENDS ?? 8000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_SENDS = 3000;

/** The service's scripts by the SHA1 that EVALSHA names them by. */
const SCRIPT_NAMES = new Map(
  Object.entries(REDIS_SCRIPTS).map(([name, { lua }]) => [createHash('sha1').update(lua).digest('hex'), name] as const),
);

interface CommandStat {
  calls: number;
  usec: number;
}

async function commandStats(redis: Redis): Promise<Map<string, CommandStat>> {
  const stats = new Map<string, CommandStat>();
  for (const [, name, calls, usec] of (await redis.info('commandstats')).matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) {
    if (!/^(info|config|slowlog)/.test(name!)) stats.set(name!, { calls: Number(calls), usec: Number(usec) });
  }
  return stats;
}

/** A script's name: the service's, or, for Bull's (whose source this does not hold), its number of keys and first key. */
function scriptName(sha: string, keyCount: string, firstKey: string): string {
  return SCRIPT_NAMES.get(sha) ?? `${firstKey.startsWith('{otp-delivery}') ? 'Bull' : 'unknown'} script of ${keyCount} keys, ${firstKey}`;
}

type SlowLogEntry = [id: number, at: number, micros: number, args: string[]];

function scriptTimes(entries: SlowLogEntry[]): Map<string, CommandStat> {
  const times = new Map<string, CommandStat>();
  for (const [, , micros, [command, sha, keyCount, firstKey]] of entries) {
    if (command?.toLowerCase() !== 'evalsha') continue;
    const name = scriptName(sha ?? '', keyCount ?? '', firstKey ?? '');
    const time = times.get(name) ?? { calls: 0, usec: 0 };
    time.calls += 1;
    time.usec += micros;
    times.set(name, time);
  }
  return times;
}

async function main(): Promise<void> {
  ServerProcess.runtime = serverRuntime(ROOT, note);
  const [redisServer, sink, twilio] = await Promise.all([RedisServer.start(), SmtpSink.start(), FakeTwilio.start()]);
  const database = await createScratchPostgresDatabase(POSTGRES, 'otp_redis_cost');
  const scratch = mkdtempSync(join(tmpdir(), 'otp-gateway-redis-cost-'));
  const env = {
    ...serviceEnvironment({ redisUrl: redisServer.url, databaseUrl: database.url, smtp: sink, twilio }),
    DELIVERY_WORKER: 'false',
  };
  const server = ServerProcess.start('api', [...serviceNodeArgs(), join(ROOT, 'dist/main.js')], env, scratch);
  const redis = new Redis(redisServer.url);
  try {
    const url = await server.listening();
    await waitUntil(async () => (await fetch(`${url}/health/ready`)).status === 200, 120_000, 'the service to be ready');
    const base = { url, connections: CONNECTIONS, apiKey: API_KEY };
    const checksOf = (sent: LoadResult): LoadJob => ({ kind: 'check', ...base, targets: wrongCodes(sent.created) });
    const warm = await load({ kind: 'send', ...base, amount: WARMUP_SENDS, prefix: 'warm' });
    await load(checksOf(warm));

    const measure = async (job: LoadJob, slowLog: boolean) => {
      await redis.config('SET', 'slowlog-log-slower-than', slowLog ? '0' : '-1');
      await redis.config('SET', 'slowlog-max-len', String(slowLog ? 40 * SENDS : 128));
      await redis.call('SLOWLOG', 'RESET');
      await redis.config('RESETSTAT');
      const cpuBefore = await redisCpuMs(redis);
      const result = await load(job);
      const cpuMicros = ((await redisCpuMs(redis)) - cpuBefore) * 1000;
      const stats = await commandStats(redis);
      const entries = slowLog ? ((await redis.call('SLOWLOG', 'GET', 40 * SENDS)) as SlowLogEntry[]) : [];
      await redis.config('SET', 'slowlog-log-slower-than', '-1');
      await redis.call('SLOWLOG', 'RESET');
      return { result, cpuMicros, stats, scripts: scriptTimes(entries) };
    };

    for (const kind of ['send', 'check'] as const) {
      const phase = async (slowLog: boolean) => {
        const sends: LoadJob = { kind: 'send', ...base, amount: SENDS, prefix: `${kind}-${slowLog ? 'logged' : 'counted'}` };
        // A check phase checks sends made (unmeasured) just before it.
        return kind === 'send' ? measure(sends, slowLog) : measure(checksOf(await load(sends)), slowLog);
      };
      const counted = await phase(false);
      const logged = await phase(true);
      const n = Math.max(1, counted.result.requests);
      console.log(
        `\n${kind}: ${counted.result.requests} requests, ${counted.result.requestsPerSecond.toFixed(0)} req/s; ` +
          `Redis CPU ${(counted.cpuMicros / n).toFixed(1)} µs per request`,
      );
      console.log("  commands (a script's own commands are counted apart from it, and within its time):");
      for (const [name, { calls, usec }] of [...counted.stats].sort((a, b) => b[1].usec - a[1].usec)) {
        console.log(
          `    ${name.padEnd(12)} ${(calls / n).toFixed(2).padStart(6)} per request  ${(usec / calls).toFixed(1).padStart(6)} µs per call`,
        );
      }
      const m = Math.max(1, logged.result.requests);
      console.log('  scripts (slow log pass, its bookkeeping included):');
      for (const [name, { calls, usec }] of [...logged.scripts].sort((a, b) => b[1].usec - a[1].usec)) {
        console.log(`    ${(calls / m).toFixed(2).padStart(6)} per request  ${(usec / calls).toFixed(1).padStart(6)} µs per call  ${name}`);
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
    await Promise.all([redisServer.stop(), sink.stop(), twilio.close()]);
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
