import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceProcess } from '../test/support/service-process.js';

/**
 * `npm run bench:memory`: the built service in embedded development mode (no REDIS_URL, no
 * DATABASE_URL: memory store, memory limiters, in-process delivery, PGlite) driven through rounds of
 * challenges, half `POST /v1/auth/otp/start` and half `POST /v1/verifications`, each for a destination
 * of its own. After every round it takes a heap snapshot of the service (`--heapsnapshot-signal`,
 * which also collects garbage first) and reads its VmRSS, then prints the growth per challenge.
 * Bounded memory shows as growth per challenge falling towards zero from round to round. Not part of CI.
 *
 * What a challenge may keep, each for its own window only: its verification (pending until the code
 * expires, then among the at most 50,000 settled ones readable for 24 h), its destination's send
 * budget (the day), its delivery-ledger entry (the code's lifetime) and its client address's per-IP
 * counter (the minute). Within those windows growth per challenge is their sum (some 2.5 KB); after
 * them the idle sample gives the per-minute part back.
 *
 * MEMORY_ROUNDS (rounds of challenges, default "12000,12000"), MEMORY_CONCURRENCY (requests in flight,
 * default 16), MEMORY_IDLE_SECONDS (pause before the last sample, default 65; 0 = none), MEMORY_SNAPSHOT=0
 * (RSS only), MEMORY_TOP (constructors listed, default 12), MEMORY_SERVICE_LOG=1 (print the service's output).
 */

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** bench/.build/bench/ → the repository. */
const MAIN_JS = join(resolve(HERE, '../../..'), 'dist/main.js');
const ROUNDS = (process.env.MEMORY_ROUNDS ?? '12000,12000').split(',').map(Number);
const CONCURRENCY = Number(process.env.MEMORY_CONCURRENCY ?? 16);
const TOP = Number(process.env.MEMORY_TOP ?? 12);
/** MEMORY_SNAPSHOT=0: RSS only; a snapshot's own buffers stay in the RSS of the samples after it. */
const SNAPSHOTS = process.env.MEMORY_SNAPSHOT !== '0';
/** An idle pause after the last round, then one more sample: what lives only a window is given back. */
const IDLE_SECONDS = Number(process.env.MEMORY_IDLE_SECONDS ?? 65);
const run = Date.now().toString(36);

interface Sample {
  challenges: number;
  rssKb: number;
  heapBytes: number;
  byConstructor: Map<string, { count: number; bytes: number }>;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0);
}

/** Live heap by constructor, from V8's snapshot format (nodes as flat arrays of node_fields). */
function readSnapshot(file: string): { total: number; byConstructor: Sample['byConstructor'] } {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snapshot.snapshot.meta.node_types[0];
  const byConstructor: Sample['byConstructor'] = new Map();
  let total = 0;
  for (let index = 0; index < snapshot.nodes.length; index += width) {
    const size = snapshot.nodes[index + sizeAt]!;
    total += size;
    const type = types[snapshot.nodes[index + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? snapshot.strings[snapshot.nodes[index + nameAt]!]! : `(${type})`;
    const entry = byConstructor.get(name) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += size;
    byConstructor.set(name, entry);
  }
  return { total, byConstructor };
}

async function snapshot(
  service: ServiceProcess,
  pid: number,
  cwd: string,
): Promise<{ total: number; byConstructor: Sample['byConstructor'] }> {
  const before = new Set(readdirSync(cwd));
  service.signal('SIGUSR2');
  for (let waited = 0; waited < 120_000; waited += 250) {
    await sleep(250);
    const file = readdirSync(cwd).find((name) => name.endsWith('.heapsnapshot') && !before.has(name));
    // Written in place: complete once its size stops changing.
    if (file) {
      let size = -1;
      for (;;) {
        const now = readFileSync(join(cwd, file)).length;
        if (now === size && now > 0) break;
        size = now;
        await sleep(500);
      }
      const result = readSnapshot(join(cwd, file));
      rmSync(join(cwd, file));
      return result;
    }
  }
  throw new Error(`no heap snapshot from process ${pid}`);
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string>): Promise<number> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  await response.arrayBuffer();
  return response.status;
}

async function drive(url: string, apiKey: string, from: number, count: number, statuses: Map<string, number>): Promise<void> {
  let next = from;
  const end = from + count;
  const one = async () => {
    for (let n = next++; n < end; n = next++) {
      // A client address per request: the per-IP limiter's entries grow with the clients, as they would.
      const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      const status =
        n % 2 === 0
          ? await post(url, '/v1/auth/otp/start', { identifier: `m${run}-${n}@example.com`, purpose: 'login' }, { 'x-forwarded-for': ip })
          : await post(
              url,
              '/v1/verifications',
              { channel: 'email', to: `v${run}-${n}@example.com`, clientIp: ip },
              { 'x-api-key': apiKey },
            );
      const key = `${n % 2 === 0 ? 'otp/start' : 'verifications'} ${status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, one));
}

async function main() {
  const cwd = mkdtempSync(join(tmpdir(), 'otp-gateway-memory-'));
  const service = ServiceProcess.start(
    {
      NODE_ENV: 'development',
      PORT: '0',
      HOST: '127.0.0.1',
      TRUST_PROXY: '127.0.0.1',
      OTP_RESEND_COOLDOWN_SECONDS: '0',
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
      NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2',
    },
    { mainJs: MAIN_JS, cwd },
  );
  try {
    const url = await service.listening(60_000);
    const apiKey = readFileSync(join(cwd, '.data/api-key'), 'utf8').trim();
    const pid = service.pid!;
    const statuses = new Map<string, number>();
    // Warm up first: code paths compiled, pools and caches filled, so the baseline is not start-up.
    await drive(url, apiKey, 0, 1000, statuses);
    await sleep(2000);
    const samples: Sample[] = [];
    const take = async (challenges: number) => {
      await sleep(2000);
      // RSS first: writing a snapshot allocates buffers of its own.
      const rss = rssKb(pid);
      const heap = SNAPSHOTS ? await snapshot(service, pid, cwd) : { total: 0, byConstructor: new Map() };
      samples.push({ challenges, rssKb: rss, heapBytes: heap.total, byConstructor: heap.byConstructor });
    };
    await take(0);
    let done = 0;
    for (const round of ROUNDS) {
      await drive(url, apiKey, 1000 + done, round, statuses);
      done += round;
      await take(done);
    }
    if (IDLE_SECONDS > 0) {
      await sleep(IDLE_SECONDS * 1000);
      await take(done);
    }
    console.log(`statuses: ${[...statuses].map(([key, count]) => `${key}×${count}`).join(', ')}`);
    console.log('challenges  RSS         heap        Δ RSS/challenge  Δ heap/challenge (this round)');
    // Writing a snapshot leaves buffers of its own in the process: with snapshots, read the heap columns.
    if (SNAPSHOTS) console.log("(RSS after the first sample includes the heap snapshots' own buffers: MEMORY_SNAPSHOT=0 for RSS alone)");
    samples.forEach((sample, index) => {
      const previous = samples[index - 1];
      const per = (now: number, then: number) => {
        if (!previous) return '';
        // The idle sample: no new challenges, so the change itself.
        if (sample.challenges === previous.challenges) return `${mib(now - then)} idle`;
        return `${Math.round((now - then) / (sample.challenges - previous.challenges))} B`;
      };
      console.log(
        `${String(sample.challenges).padEnd(11)} ${mib(sample.rssKb * 1024).padEnd(11)} ${mib(sample.heapBytes).padEnd(11)} ` +
          `${per(sample.rssKb * 1024, (previous?.rssKb ?? 0) * 1024).padEnd(16)} ${per(sample.heapBytes, previous?.heapBytes ?? 0)}`,
      );
    });
    const first = samples[0]!;
    const last = samples.at(-1)!;
    // The last round against the one before it: the first round also carries the settling after warm-up.
    const end = samples.findLast((sample) => sample.challenges === last.challenges && sample !== last) ?? last;
    const start = samples.findLast((sample) => sample.challenges < end.challenges)!;
    const perChallenge = (now: number, then: number) => Math.round((now - then) / (end.challenges - start.challenges));
    console.log(
      `last round: RSS ${(end.rssKb / start.rssKb).toFixed(3)}× (${perChallenge(end.rssKb * 1024, start.rssKb * 1024)} B/challenge)` +
        (SNAPSHOTS
          ? `, heap ${(end.heapBytes / start.heapBytes).toFixed(3)}× (${perChallenge(end.heapBytes, start.heapBytes)} B/challenge)`
          : ''),
    );
    if (!SNAPSHOTS) return;
    console.log(`heap growth by constructor, first to last sample (top ${TOP}):`);
    const growth = [...last.byConstructor].map(([name, entry]) => {
      const then = first.byConstructor.get(name) ?? { count: 0, bytes: 0 };
      return { name, count: entry.count - then.count, bytes: entry.bytes - then.bytes };
    });
    for (const row of growth.sort((a, b) => b.bytes - a.bytes).slice(0, TOP)) {
      console.log(
        `  ${row.name.slice(0, 40).padEnd(40)} ${String(row.count).padStart(9)} objects  ${mib(row.bytes).padStart(10)}  ${Math.round(row.bytes / last.challenges)} B/challenge`,
      );
    }
  } finally {
    service.kill();
    await service.exited;
    if (process.env.MEMORY_SERVICE_LOG) console.log(service.output);
    rmSync(cwd, { recursive: true, force: true });
  }
}

await main();
