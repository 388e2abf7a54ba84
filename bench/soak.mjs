// Soak run: the built service in production mode under steady load for minutes, with an SMTP server
// and a Twilio fake that fail a fraction of calls, and its Redis crashed and restarted once halfway.
// At the end every accepted verification must have been delivered once or be `failed` with a reason,
// and the resident memory must not have grown past a bound. Not part of CI: `npm run soak`.
//
// Settings (environment):
//   SOAK_SECONDS          length of the load phase (default 180)
//   SOAK_RATE             verifications started per second, email and SMS alternating (default 8)
//   SOAK_SMTP_FAILURE     fraction of messages the SMTP server refuses with 451 (default 0.1)
//   SOAK_TWILIO_FAILURE   fraction of Twilio calls answered with a 5xx (default 0.1)
//   SOAK_REDIS_DOWN_MS    how long Redis stays down at the halfway mark (default 2000)
//   SOAK_RSS_GROWTH_MAX   allowed growth of the last quarter's mean RSS over the first's (default 0.3)
//   SOAK_DATABASE_URL     PostgreSQL server to create a scratch database on
//                         (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
//   REDIS_SERVER_BIN      redis-server to run (default: the one on PATH)
/* eslint-disable no-console -- a command-line run that prints its own report */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mailparser from 'mailparser';
import pg from 'pg';
import smtp from 'smtp-server';

const settings = {
  seconds: Number(process.env.SOAK_SECONDS ?? 180),
  rate: Number(process.env.SOAK_RATE ?? 8),
  smtpFailure: Number(process.env.SOAK_SMTP_FAILURE ?? 0.1),
  twilioFailure: Number(process.env.SOAK_TWILIO_FAILURE ?? 0.1),
  redisDownMs: Number(process.env.SOAK_REDIS_DOWN_MS ?? 2000),
  rssGrowthMax: Number(process.env.SOAK_RSS_GROWTH_MAX ?? 0.3),
  databaseServer: process.env.SOAK_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
};
const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const API_KEY = `soak-${randomBytes(12).toString('hex')}`;
const ACCOUNT_SID = `AC${'5'.repeat(32)}`;
const AUTH_TOKEN = 'a'.repeat(32);
const CODE = /\b(\d{6})\b/;
const run = Date.now().toString(36);

const log = (message) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A private redis-server whose append-only file is synced on every write, so a crash loses nothing acknowledged. */
class Redis {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    this.child = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', [...args, '--protected-mode', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    await waitForPort(this.port);
  }

  /** SIGKILL: a crash, not a shutdown. */
  async crash() {
    const child = this.child;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
}

/** An SMTP relay that refuses a fraction of messages with a transient 451 after their content arrived. */
async function startSmtp(failure) {
  const received = [];
  let refused = 0;
  const server = new smtp.SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    closeTimeout: 100,
    onData(stream, session, callback) {
      mailparser
        .simpleParser(stream)
        .then((mail) => {
          if (Math.random() < failure) {
            refused += 1;
            return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
          }
          for (const rcpt of session.envelope.rcptTo) received.push({ to: rcpt.address.toLowerCase(), text: mail.text ?? '' });
          callback();
        })
        .catch((error) => callback(error));
    },
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  server.on('error', () => undefined);
  return { port, received, refused: () => refused, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Twilio's Messages API (and the account read its readiness probe makes), failing a fraction of sends with a 5xx. */
async function startTwilio(failure) {
  const received = [];
  let refused = 0;
  const sockets = new Set();
  const server = createHttpServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const reply = (status, body) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === `/2010-04-01/Accounts/${ACCOUNT_SID}.json`) {
      return reply(200, { sid: ACCOUNT_SID, status: 'active', type: 'Full' });
    }
    if (request.method === 'POST' && path === `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`) {
      if (Math.random() < failure) {
        refused += 1;
        const status = Math.random() < 0.5 ? 500 : 503;
        return reply(status, { code: 20500, message: 'Internal Server Error', status });
      }
      received.push({ to: form.To, text: form.Body ?? '' });
      return reply(201, { sid: `SM${randomBytes(16).toString('hex')}`, to: form.To, body: form.Body, status: 'queued' });
    }
    reply(404, { code: 20404, message: `not found: ${path}`, status: 404 });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    refused: () => refused,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function administer(serverUrl, statement) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function startService(env, cwd) {
  const child = spawn(process.execPath, [MAIN_JS], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const service = { child, output: '', exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))) };
  child.stdout.on('data', (chunk) => (service.output = (service.output + chunk.toString()).slice(-200_000)));
  child.stderr.on('data', (chunk) => (service.output = (service.output + chunk.toString()).slice(-200_000)));
  service.url = new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /Listening on (http:\/\/[^\s"]+)/.exec(service.output);
      if (match) {
        clearInterval(timer);
        resolve(match[1]);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`the service exited before listening:\n${service.output}`));
      }
    }, 50);
  });
  return service;
}

function rssKb(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function api(url, method, path, body) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  } catch {
    return { status: response.status, body: { raw: text } };
  }
}

const mean = (values) => (values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : 0);

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'otp-soak-'));
  const redis = new Redis(await freePort(), scratch);
  const [smtpServer, twilio] = await Promise.all([startSmtp(settings.smtpFailure), startTwilio(settings.twilioFailure)]);
  await redis.start();
  const databaseName = `otp_soak_${process.pid}_${randomBytes(3).toString('hex')}`;
  await administer(settings.databaseServer, `CREATE DATABASE "${databaseName}"`);
  const databaseUrl = new URL(settings.databaseServer);
  databaseUrl.pathname = `/${databaseName}`;

  const service = startService(
    {
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      SHUTDOWN_DRAIN_MS: '0',
      REDIS_URL: redis.url,
      DATABASE_URL: databaseUrl.toString(),
      JWT_SECRET: randomBytes(24).toString('hex'),
      OTP_SECRET: randomBytes(24).toString('hex'),
      API_KEYS: API_KEY,
      // All load comes from one address: the per-IP limit is not what this run measures.
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpServer.port),
      SMTP_FROM: 'OTP <otp@example.com>',
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_FROM: '+14155550100',
      TWILIO_API_BASE_URL: twilio.url,
    },
    scratch,
  );
  const cleanup = async () => {
    if (service.child.exitCode === null) service.child.kill('SIGKILL');
    if (redis.child?.exitCode === null) await redis.crash().catch(() => undefined);
    await Promise.all([smtpServer.close(), twilio.close()]);
    await administer(settings.databaseServer, `DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  };

  try {
    const url = await service.url;
    const pid = service.child.pid;
    log(`service ${pid} on ${url}; ${settings.seconds}s at ${settings.rate}/s; SMTP fails ${settings.smtpFailure * 100}%, Twilio ${settings.twilioFailure * 100}%`);

    const rss = [];
    const sampler = setInterval(() => {
      const kb = rssKb(pid);
      if (kb !== undefined) rss.push(kb);
    }, 2000);

    const accepted = [];
    const statuses = new Map();
    let outage = false;
    const during = { outage503: 0, other503: 0 };
    const checks = new Map();
    let inFlight = 0;
    let sequence = 0;
    const pending = new Set();

    const begin = async () => {
      const n = sequence++;
      const channel = n % 2 === 0 ? 'email' : 'sms';
      const to = channel === 'email' ? `soak-${run}-${n}@example.com` : `+447911${String(100000 + (Math.floor(n / 2) % 900_000))}`;
      inFlight += 1;
      try {
        const response = await api(url, 'POST', '/v1/verifications', { channel, to });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 201) accepted.push({ id: response.body.id, channel, to: to.toLowerCase(), n });
        else if (response.status === 503) during[outage ? 'outage503' : 'other503'] += 1;
      } catch (error) {
        statuses.set(`error: ${error.name}`, (statuses.get(`error: ${error.name}`) ?? 0) + 1);
      } finally {
        inFlight -= 1;
      }
    };

    /** Now and then, someone types the code they received. */
    const checkOne = async () => {
      const candidate = accepted[Math.floor(Math.random() * accepted.length)];
      if (!candidate || candidate.checked) return;
      const inbox = candidate.channel === 'email' ? smtpServer.received : twilio.received;
      const message = inbox.find((entry) => entry.to === candidate.to);
      const code = message && CODE.exec(message.text)?.[1];
      if (!code) return;
      candidate.checked = true;
      const response = await api(url, 'POST', '/v1/verifications/check', { id: candidate.id, code }).catch(() => ({ status: 'error' }));
      checks.set(response.status, (checks.get(response.status) ?? 0) + 1);
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
      } else statuses.set('skipped (100 in flight)', (statuses.get('skipped (100 in flight)') ?? 0) + 1);
      if (tick % 10 === 0) void checkOne();
      if (tick % (settings.rate * 15) === 0) log(`${accepted.length} accepted, RSS ${rss.at(-1)} kB`);
      if (!restarted && Date.now() >= restartAt) {
        restarted = true;
        outage = true;
        log('Redis crashes');
        await redis.crash();
        setTimeout(async () => {
          await redis.start();
          log('Redis is back');
          // Answers that were already on their way still count as outage 503s for a moment.
          setTimeout(() => (outage = false), 3000);
        }, settings.redisDownMs);
      }
    }
    await Promise.allSettled([...pending]);
    log(`load over: ${accepted.length} accepted; waiting for every delivery to settle`);

    // Every accepted verification reaches `sent` or `failed`; retries back off, so give it time.
    const reads = new Map();
    const settleBy = Date.now() + 120_000;
    let unsettled = accepted;
    while (unsettled.length > 0 && Date.now() < settleBy) {
      const next = [];
      for (const entry of unsettled) {
        const read = await api(url, 'GET', `/v1/verifications/${entry.id}`).catch(() => ({ status: 0, body: {} }));
        reads.set(entry.id, read);
        const status = read.body?.delivery?.status;
        if (read.status !== 200 || (status !== 'sent' && status !== 'failed')) next.push(entry);
      }
      unsettled = next;
      if (unsettled.length > 0) await sleep(2000);
    }
    // A second copy of anything would come after the first: give it the time to.
    await sleep(5000);
    clearInterval(sampler);

    const count = new Map();
    for (const entry of [...smtpServer.received, ...twilio.received]) count.set(entry.to, (count.get(entry.to) ?? 0) + 1);
    const outcome = { delivered: 0, failed: 0, missing: 0, duplicated: 0, sentButNotReceived: 0, failedButReceived: 0 };
    const reasons = new Map();
    const examples = { missing: [], duplicated: [] };
    for (const entry of accepted) {
      const received = count.get(entry.to) ?? 0;
      const read = reads.get(entry.id);
      const delivery = read?.body?.delivery ?? {};
      if (received > 1) {
        outcome.duplicated += 1;
        examples.duplicated.push(`${entry.id} (${entry.channel}, ${received} copies, status ${delivery.status})`);
      } else if (received === 1) {
        outcome.delivered += 1;
        if (delivery.status === 'failed') outcome.failedButReceived += 1;
      } else if (delivery.status === 'failed' && delivery.lastError) {
        outcome.failed += 1;
        reasons.set(delivery.lastError, (reasons.get(delivery.lastError) ?? 0) + 1);
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

    service.child.kill('SIGTERM');
    const exit = await Promise.race([service.exited, sleep(25_000).then(() => ({ code: 'still running after 25 s' }))]);

    const problems = [];
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
      `vendor refusals     SMTP 451: ${smtpServer.refused()}, Twilio 5xx: ${twilio.refused()}`,
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
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
