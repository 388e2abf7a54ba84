// The built image, run as production runs it (.ci/docker-image prepares the image, Redis and the
// database): it refuses an empty production environment, starts with a full one, reports its commit,
// delivers a code over SMTP that then checks out, and exits 0 on `docker stop`. The container uses
// the host's network but binds 127.0.0.1, and its SMTP server is this script's: nothing leaves
// loopback. Its root filesystem is read-only with a tmpfs on /tmp, as in deploy/kubernetes.
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import mailparser from 'mailparser';
import { SMTPServer } from 'smtp-server';

const { IMAGE, CONTAINER, EXPECTED_COMMIT, REDIS_URL, DATABASE_URL, DOCKER_BIN = 'docker' } = process.env;
for (const [name, value] of Object.entries({ IMAGE, CONTAINER, EXPECTED_COMMIT, REDIS_URL, DATABASE_URL })) {
  if (!value) throw new Error(`${name} is not set`);
}
const API_KEY = 'image-check-api-key-0123456789';
const TO = 'image-check@example.com';
const run = promisify(execFile);
const docker = (...args) => run(DOCKER_BIN, args, { maxBuffer: 16 * 1024 * 1024 });
const ok = (what) => console.log(`ok - ${what}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** `docker run` in the foreground: exit code and everything it printed, or a failure after the timeout. */
function runToExit(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker run did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function logsOf(name) {
  const { stdout, stderr } = await docker('logs', name).catch((error) => error);
  return `${stdout ?? ''}${stderr ?? ''}`;
}

// 1. An empty production environment: every missing variable named, no listening, a non-zero exit.
{
  const { code, output } = await runToExit(['run', '--rm', '--network', 'host', '--read-only', '--tmpfs', '/tmp', IMAGE], 60_000);
  const missing = ['REDIS_URL', 'DATABASE_URL', 'JWT_SECRET', 'OTP_SECRET', 'API_KEYS'].filter((name) => !output.includes(name));
  if (code === 0 || !output.includes('Refusing to start in production') || missing.length > 0) {
    throw new Error(`an empty production environment: exit ${code}, unnamed ${missing.join(', ') || 'none'}:\n${output}`);
  }
  if (
    !output
      .split('\n')
      .filter(Boolean)
      .every((line) => line.startsWith('{'))
  )
    throw new Error(`production logs are not all JSON lines:\n${output}`);
  ok(`refuses an empty production environment (exit ${code}), naming each missing variable in JSON log lines`);
}

// 2. A local SMTP server (no TLS: the service allows a plain connection on loopback).
const received = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    mailparser
      .simpleParser(stream)
      .then((mail) => received.push({ to: session.envelope.rcptTo.map((r) => r.address), text: mail.text ?? '' }))
      .then(() => callback(), callback);
  },
});
const smtpPort = await freePort();
await new Promise((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  PORT: String(port),
  HOST: '127.0.0.1',
  REDIS_URL,
  DATABASE_URL,
  JWT_SECRET: 'image-check-jwt-secret-0123456789abcdef',
  // Production signs ES256 access tokens with a key it is given: a throwaway one for this check.
  JWT_PRIVATE_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  OTP_SECRET: 'image-check-otp-secret-fedcba9876543210',
  API_KEYS: API_KEY,
  OTP_CHANNELS: 'email',
  EMAIL_PROVIDERS: 'smtp',
  SMTP_HOST: '127.0.0.1',
  SMTP_PORT: String(smtpPort),
  SMTP_FROM: 'OTP Gateway <no-reply@example.com>',
  SHUTDOWN_DRAIN_MS: '1000',
};
const api = async (method, path, body) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, requestId: response.headers.get('x-request-id'), body: await response.json().catch(() => ({})) };
};

try {
  await docker(
    'run',
    '-d',
    '--name',
    CONTAINER,
    '--network',
    'host',
    '--read-only',
    '--tmpfs',
    '/tmp',
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    IMAGE,
  );

  // 3. Ready: Redis, PostgreSQL (migrated at start-up) and the queue answer.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await fetch(`${base}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    const { stdout } = await docker('inspect', '-f', '{{.State.Running}}', CONTAINER);
    if (stdout.trim() !== 'true' || Date.now() > deadline)
      throw new Error(`never ready (last status ${status}):\n${await logsOf(CONTAINER)}`);
    await sleep(500);
  }
  ok('starts with a full production environment and turns ready');

  const health = await api('GET', '/health');
  if (health.status !== 200 || health.body.commit !== EXPECTED_COMMIT || health.body.environment !== 'production') {
    throw new Error(`GET /health: ${JSON.stringify(health)}; expected commit ${EXPECTED_COMMIT} in production`);
  }
  ok(`GET /health reports commit ${health.body.commit}, version ${health.body.version}, production`);

  // 4. A code over SMTP, and the check it passes.
  const started = await api('POST', '/v1/verifications', { channel: 'email', to: TO });
  if (started.status !== 201) throw new Error(`POST /v1/verifications: ${JSON.stringify(started)}`);
  const mailDeadline = Date.now() + 30_000;
  while (!received.some((mail) => mail.to.includes(TO))) {
    if (Date.now() > mailDeadline) throw new Error(`no email for ${TO}:\n${await logsOf(CONTAINER)}`);
    await sleep(200);
  }
  const code = /\b(\d{6})\b/.exec(received.find((mail) => mail.to.includes(TO)).text)?.[1];
  if (!code) throw new Error('the email carries no 6-digit code');
  ok('delivered a code over SMTP');
  const checked = await api('POST', '/v1/verifications/check', { id: started.body.id, code });
  if (checked.status !== 200 || checked.body.status !== 'approved')
    throw new Error(`POST /v1/verifications/check: ${JSON.stringify(checked)}`);
  const delivery = await api('GET', `/v1/verifications/${started.body.id}`);
  ok(`the code checks out (approved; delivery ${delivery.body.delivery?.status} through ${delivery.body.delivery?.provider})`);

  // The request's log context (AsyncLocalStorage, on the image's Node and flags): the audit line each request
  // writes from its handler, and the delivery job's line in the worker, carry that request's id.
  const unlabelled = async () => {
    const lines = (await logsOf(CONTAINER)).split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
    const has = (requestId, matches) => lines.some((line) => line.requestId === requestId && matches(line));
    return [
      ['verification.started', has(started.requestId, (line) => line.event === 'verification.started')],
      ['verification.approved', has(checked.requestId, (line) => line.event === 'verification.approved')],
      ['the delivery', has(started.requestId, (line) => String(line.msg).includes('delivered through smtp'))],
    ].flatMap(([name, found]) => (found ? [] : [name]));
  };
  if (!started.requestId || started.requestId === checked.requestId) throw new Error('the answers carry no request ids of their own');
  const logDeadline = Date.now() + 10_000;
  for (let missing = await unlabelled(); missing.length > 0; missing = await unlabelled()) {
    if (Date.now() > logDeadline) throw new Error(`no line with its request's id: ${missing.join(', ')}:\n${await logsOf(CONTAINER)}`);
    await sleep(200);
  }
  ok("the lines written while a request is handled, and its delivery's, carry the request's id");

  // 5. SIGTERM: drain, close, exit 0.
  await docker('stop', '-t', '30', CONTAINER);
  const { stdout: exit } = await docker('inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', CONTAINER);
  if (exit.trim() !== '0 false') throw new Error(`exit after docker stop: ${exit.trim()}:\n${await logsOf(CONTAINER)}`);
  ok('exits 0 on docker stop');
} finally {
  await docker('rm', '-f', CONTAINER).catch(() => undefined);
  smtp.close();
}
