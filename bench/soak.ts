import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENEROUS_FRAUD_GUARD, localProduction } from '../test/support/environments.js';
import { FakeTwilio } from '../test/support/fake-twilio.js';
import { RedisServer } from '../test/support/redis-server.js';
import { createScratchPostgresDatabase } from '../test/support/scratch-postgres.js';
import { ServiceProcess } from '../test/support/service-process.js';
import { SmtpTestServer } from '../test/support/smtp-test-server.js';

/**
 * `npm run soak`: the built service in production mode under steady load for minutes, with the
 * tests' SMTP server and Twilio fake refusing a fraction of sends, and its Redis crashed and
 * restarted once halfway. At the end every accepted verification must have been delivered once or
 * be `failed` with a reason, and the resident memory must not have grown past a bound. Not part of CI.
 *
 * Settings (environment):
 *   SOAK_SECONDS          length of the load phase (default 180)
 *   SOAK_RATE             verifications started per second, email and SMS alternating (default 8)
 *   SOAK_SMTP_FAILURE     fraction of messages the SMTP server refuses with 451 (default 0.1)
 *   SOAK_TWILIO_FAILURE   fraction of Twilio sends answered with a 5xx (default 0.1)
 *   SOAK_REDIS_DOWN_MS    how long Redis stays down at the halfway mark (default 2000)
 *   SOAK_RSS_GROWTH_MAX   allowed growth of the last quarter's mean RSS over the first's (default 0.3)
 *   SOAK_DATABASE_URL     PostgreSQL server to create a scratch database on
 *                         (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
 *   SOAK_SERVICE_LOG      print the service's log when the run fails
 *   REDIS_SERVER_BIN      redis-server to run (default: the one on PATH)
 */

const settings = {
  seconds: Number(process.env.SOAK_SECONDS ?? 180),
  rate: Number(process.env.SOAK_RATE ?? 8),
  smtpFailure: Number(process.env.SOAK_SMTP_FAILURE ?? 0.1),
  twilioFailure: Number(process.env.SOAK_TWILIO_FAILURE ?? 0.1),
  redisDownMs: Number(process.env.SOAK_REDIS_DOWN_MS ?? 2000),
  rssGrowthMax: Number(process.env.SOAK_RSS_GROWTH_MAX ?? 0.3),
  databaseServer: process.env.SOAK_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
};
/** Run from bench/.build/bench/: the repository is three levels up. */
const MAIN_JS = join(resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..'), 'dist/main.js');
const API_KEY = `soak-${randomBytes(12).toString('hex')}`;
const CODE = /\b(\d{6})\b/;
const run = Date.now().toString(36);

interface Accepted {
  id: string;
  channel: 'email' | 'sms';
  to: string;
  checked?: boolean;
}

interface ApiResponse {
  status: number | string;
  body: { id?: string; delivery?: { status?: string; lastError?: string | null } };
}

const log = (message: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const mean = (values: number[]) => (values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : 0);
const tally = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);

function rssKb(pid: number | undefined): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function api(url: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: text ? (JSON.parse(text) as ApiResponse['body']) : {} };
  } catch {
    return { status: response.status, body: {} };
  }
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'otp-soak-'));
  // Append-only file synced on every write, so a crash loses nothing Redis acknowledged.
  const redis = await RedisServer.start({ extraArgs: () => ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', scratch] });
  const smtp = (await SmtpTestServer.start()).failSome({ stage: 'data', code: 451, message: 'Try again later' }, settings.smtpFailure);
  const twilio = (await FakeTwilio.start()).failSome(
    { status: 503, code: 20500, message: 'Service Unavailable' },
    settings.twilioFailure,
    // Sends only: the readiness probe's account read stays healthy, as Twilio's does in a partial outage.
    (request) => request.method === 'POST' && request.path.endsWith('/Messages.json'),
  );
  const database = await createScratchPostgresDatabase(settings.databaseServer, 'otp_soak');

  const service = ServiceProcess.start(
    {
      ...localProduction({ redisUrl: redis.url, databaseUrl: database.url, smtp, twilio }),
      SHUTDOWN_DRAIN_MS: '0',
      API_KEYS: API_KEY,
      // All load comes from one address: the per-IP limit is not what this run measures.
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
      // Its texts go to consecutive numbers and few codes are typed: that is pumping to the fraud guard,
      // which `npm run soak:fraud` soaks; here it checks every send but refuses none.
      ...GENEROUS_FRAUD_GUARD,
    },
    { mainJs: MAIN_JS },
  );

  try {
    const url = await service.listening(30_000);
    const pid = service.pid;
    log(
      `service ${pid} on ${url}; ${settings.seconds}s at ${settings.rate}/s; SMTP fails ${settings.smtpFailure * 100}%, Twilio ${settings.twilioFailure * 100}%`,
    );

    const rss: number[] = [];
    const sampler = setInterval(() => {
      const kb = rssKb(pid);
      if (kb !== undefined) rss.push(kb);
    }, 2000);

    const accepted: Accepted[] = [];
    const statuses = new Map<number | string, number>();
    let outage = false;
    const during = { outage503: 0, other503: 0 };
    const checks = new Map<number | string, number>();
    let inFlight = 0;
    let sequence = 0;
    const pending = new Set<Promise<void>>();

    const begin = async () => {
      const n = sequence++;
      const channel = n % 2 === 0 ? 'email' : 'sms';
      const to = channel === 'email' ? `soak-${run}-${n}@example.com` : `+447911${String(100000 + (Math.floor(n / 2) % 900_000))}`;
      inFlight += 1;
      try {
        const response = await api(url, 'POST', '/v1/verifications', { channel, to });
        tally(statuses, response.status);
        if (response.status === 201) accepted.push({ id: response.body.id!, channel, to: to.toLowerCase() });
        else if (response.status === 503) during[outage ? 'outage503' : 'other503'] += 1;
      } catch (error) {
        tally(statuses, `error: ${(error as Error).name}`);
      } finally {
        inFlight -= 1;
      }
    };

    /** Every message that reached someone, by recipient: what the SMTP server accepted and the texts Twilio accepted. */
    const delivered = (): Map<string, string[]> => {
      const byRecipient = new Map<string, string[]>();
      const add = (to: string, text: string) => {
        const texts = byRecipient.get(to);
        if (texts) texts.push(text);
        else byRecipient.set(to, [text]);
      };
      for (const mail of smtp.received) for (const to of mail.to) add(to.toLowerCase(), mail.text ?? '');
      // The fake records every call, refused ones too: only those it answered 201 count as sent.
      for (const request of twilio.received) {
        if (request.method === 'POST' && request.path.endsWith('/Messages.json') && request.answeredStatus === 201)
          add(request.form.To ?? '', request.form.Body ?? '');
      }
      return byRecipient;
    };

    /** Now and then, someone types the code they received. */
    const checkOne = async () => {
      const candidate = accepted[Math.floor(Math.random() * accepted.length)];
      if (!candidate || candidate.checked) return;
      const code = (delivered().get(candidate.to) ?? []).map((text) => CODE.exec(text)?.[1]).find(Boolean);
      if (!code) return;
      candidate.checked = true;
      const response = await api(url, 'POST', '/v1/verifications/check', { id: candidate.id, code }).catch(() => ({ status: 'error' }));
      tally(checks, response.status);
    };

    const started = Date.now();
    const endAt = started + settings.seconds * 1000;
    const restartAt = started + (settings.seconds * 1000) / 2;
    let restarted = false;
    let tick = 0;
    while (Date.now() < endAt) {
      const due = started + (tick * 1000) / settings.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      tick += 1;
      // Bounded concurrency: a stalled service must show up as errors, not as a pile of sockets here.
      if (inFlight < 100) {
        const task = begin();
        pending.add(task);
        void task.finally(() => pending.delete(task));
      } else tally(statuses, 'skipped (100 in flight)');
      if (tick % 10 === 0) void checkOne();
      if (tick % (settings.rate * 15) === 0) log(`${accepted.length} accepted, RSS ${rss.at(-1)} kB`);
      if (!restarted && Date.now() >= restartAt) {
        restarted = true;
        outage = true;
        log('Redis crashes');
        await redis.stop();
        setTimeout(() => {
          void redis.restart().then(() => {
            log('Redis is back');
            // Answers that were already on their way still count as outage 503s for a moment.
            setTimeout(() => (outage = false), 3000);
          });
        }, settings.redisDownMs);
      }
    }
    await Promise.allSettled([...pending]);
    log(`load over: ${accepted.length} accepted; waiting for every delivery to settle`);

    // Every accepted verification reaches `sent` or `failed`; retries back off, so give it time.
    const reads = new Map<string, ApiResponse>();
    const settleBy = Date.now() + 120_000;
    let unsettled = accepted;
    while (unsettled.length > 0 && Date.now() < settleBy) {
      const next: Accepted[] = [];
      for (const entry of unsettled) {
        const read = await api(url, 'GET', `/v1/verifications/${entry.id}`).catch((): ApiResponse => ({ status: 0, body: {} }));
        reads.set(entry.id, read);
        const status = read.body.delivery?.status;
        if (read.status !== 200 || (status !== 'sent' && status !== 'failed')) next.push(entry);
      }
      unsettled = next;
      if (unsettled.length > 0) await sleep(2000);
    }
    // A second copy of anything would come after the first: give it the time to.
    await sleep(5000);
    clearInterval(sampler);

    const outcome = { delivered: 0, failed: 0, missing: 0, duplicated: 0, sentButNotReceived: 0, failedButReceived: 0 };
    const reasons = new Map<string, number>();
    const examples = { missing: [] as string[], duplicated: [] as string[] };
    const inboxes = delivered();
    for (const entry of accepted) {
      const received = inboxes.get(entry.to)?.length ?? 0;
      const read = reads.get(entry.id);
      const delivery = read?.body.delivery ?? {};
      if (received > 1) {
        outcome.duplicated += 1;
        examples.duplicated.push(`${entry.id} (${entry.channel}, ${received} copies, status ${delivery.status})`);
      } else if (received === 1) {
        outcome.delivered += 1;
        if (delivery.status === 'failed') outcome.failedButReceived += 1;
      } else if (delivery.status === 'failed' && delivery.lastError) {
        outcome.failed += 1;
        tally(reasons, delivery.lastError);
      } else {
        outcome.missing += 1;
        if (delivery.status === 'sent') outcome.sentButNotReceived += 1;
        examples.missing.push(`${entry.id} (${entry.channel}, HTTP ${read?.status}, delivery ${JSON.stringify(delivery)})`);
      }
    }

    const quarter = Math.max(1, Math.floor(rss.length / 4));
    const firstQuarter = mean(rss.slice(0, quarter));
    const lastQuarter = mean(rss.slice(-quarter));
    const growth = firstQuarter > 0 ? lastQuarter / firstQuarter - 1 : 0;

    service.signal('SIGTERM');
    const exit = await Promise.race([service.exited, sleep(25_000).then(() => ({ code: 'still running after 25 s' }))]);

    const problems: string[] = [];
    if (outcome.missing > 0) problems.push(`${outcome.missing} accepted verification(s) neither delivered nor failed with a reason`);
    if (outcome.duplicated > 0) problems.push(`${outcome.duplicated} message(s) delivered more than once`);
    if (growth > settings.rssGrowthMax) problems.push(`RSS grew ${(growth * 100).toFixed(1)}% (bound ${settings.rssGrowthMax * 100}%)`);
    if (exit.code !== 0) problems.push(`the service did not exit 0 after SIGTERM: ${JSON.stringify(exit)}`);

    const lines = [
      '',
      '=== soak summary ===',
      `duration            ${settings.seconds}s at ${settings.rate}/s (Redis down ${settings.redisDownMs} ms at the halfway mark)`,
      `responses           ${[...statuses].map(([status, n]) => `${status}: ${n}`).join(', ')}`,
      `503 during outage   ${during.outage503} (outside it: ${during.other503})`,
      `accepted (201)      ${accepted.length}`,
      `delivered once      ${outcome.delivered}${outcome.failedButReceived ? ` (of which ${outcome.failedButReceived} read as failed)` : ''}`,
      `failed with reason  ${outcome.failed}${reasons.size ? ` — ${[...reasons].map(([reason, n]) => `${n}× ${reason}`).join('; ')}` : ''}`,
      `missing             ${outcome.missing}${outcome.sentButNotReceived ? ` (of which ${outcome.sentButNotReceived} read as sent)` : ''}`,
      `duplicated          ${outcome.duplicated}`,
      `vendor refusals     SMTP 451: ${smtp.refusedCount}, Twilio 5xx: ${twilio.failuresServed}`,
      `checks (right code) ${[...checks].map(([status, n]) => `${status}: ${n}`).join(', ') || 'none'}`,
      `RSS                 first quarter ${(firstQuarter / 1024).toFixed(1)} MiB, last quarter ${(lastQuarter / 1024).toFixed(1)} MiB, growth ${(growth * 100).toFixed(1)}% (bound ${settings.rssGrowthMax * 100}%), ${rss.length} samples`,
      `shutdown            ${JSON.stringify(exit)}`,
      ...examples.missing.slice(0, 5).map((line) => `  missing: ${line}`),
      ...examples.duplicated.slice(0, 5).map((line) => `  duplicated: ${line}`),
      problems.length ? `RESULT: FAIL — ${problems.join('; ')}` : 'RESULT: PASS',
    ];
    console.log(lines.join('\n'));
    if (problems.length && process.env.SOAK_SERVICE_LOG) console.log(service.output);
    process.exitCode = problems.length ? 1 : 0;
  } finally {
    service.kill();
    await Promise.all([redis.stop(), smtp.stop(), twilio.close()]);
    await database.drop().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
