import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reachableProviders } from '../test/support/environments.js';
import { FakeTwilio } from '../test/support/fake-twilio.js';
import { RedisServer } from '../test/support/redis-server.js';
import { ServiceProcess } from '../test/support/service-process.js';
import { SmtpTestServer } from '../test/support/smtp-test-server.js';

/**
 * `npm run soak:fraud`: the built service on Redis under mixed SMS traffic. A legitimate share sends
 * to random numbers in a few countries and, like people, types most codes a few seconds after the
 * text arrives; a pumping share walks number ranges of one other country and never types a code.
 * Reports how many pumped texts got out before the fraud guard stopped them, and how many legitimate
 * sends it refused (the goal: none). Not part of CI.
 *
 * Settings (environment):
 *   SOAK_SECONDS              length of the run (default 120)
 *   SOAK_RATE                 sends per second, both shares (default 8)
 *   SOAK_PUMP_SHARE           fraction of sends that pump (default 0.3)
 *   SOAK_ABANDON              fraction of legitimate sends whose code is never typed (default 0.1)
 *   SMS_MAX_SENDS_PER_*, OTP_MAX_SENDS_PER_CHANNEL_PER_HOUR, FRAUD_*
 *                             passed to the service; defaults are the shipped ones, except
 *                             FRAUD_GRACE_SECONDS 20 (so a short run reaches a verdict) and the
 *                             legitimate countries' caps raised, as an operator with traffic there would
 */

const settings = {
  seconds: Number(process.env.SOAK_SECONDS ?? 120),
  rate: Number(process.env.SOAK_RATE ?? 8),
  pumpShare: Number(process.env.SOAK_PUMP_SHARE ?? 0.3),
  abandon: Number(process.env.SOAK_ABANDON ?? 0.1),
};
const MAIN_JS = join(resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..'), 'dist/main.js');
const API_KEY = `soak-${randomBytes(12).toString('hex')}`;
const ADMIN_KEY = `soak-admin-${randomBytes(12).toString('hex')}`;

/** Random numbers that libphonenumber accepts as mobile, as real users' are: a new range almost every time. */
const LEGITIMATE: Record<string, () => string> = {
  US: () => validNumber(() => `+1${randomInt(201, 990)}${randomInt(200, 1000)}${String(randomInt(0, 10_000)).padStart(4, '0')}`),
  FR: () => validNumber(() => `+336${randomInt(10_000_000, 100_000_000)}`),
  DE: () => validNumber(() => `+49151${randomInt(10_000_000, 100_000_000)}`),
};

function validNumber(draw: () => string): string {
  for (;;) {
    const number = parsePhoneNumberFromString(draw());
    if (number?.isValid() && ['MOBILE', 'FIXED_LINE_OR_MOBILE'].includes(number.getType() ?? '')) return number.number;
  }
}

/** The pumped ranges: GB mobile numbers walked in order, a thousand to a range, from a random start, to the next range when refused. */
const PUMPED = 'GB';
let pumpNumber = randomInt(0, 500_000);
const nextPumped = () => `+447400${String(pumpNumber++ % 1_000_000).padStart(6, '0')}`;

const log = (message: string) => console.log(`[soak:fraud ${new Date().toISOString().slice(11, 19)}] ${message}`);
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const tally = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  key = API_KEY,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'otp-soak-fraud-'));
  const [redis, twilio, smtp] = await Promise.all([RedisServer.start(), FakeTwilio.start(), SmtpTestServer.start()]);
  const passed = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => /^(SMS_MAX_SENDS_PER_|OTP_MAX_SENDS_PER_CHANNEL_|FRAUD_)/.test(name)),
  ) as Record<string, string>;
  const guard = {
    FRAUD_GRACE_SECONDS: '20',
    SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: `*:200,${Object.keys(LEGITIMATE)
      .map((country) => `${country}:5000`)
      .join(',')}`,
    ...passed,
  };
  const service = ServiceProcess.start(
    {
      NODE_ENV: 'development',
      ...reachableProviders(smtp, twilio),
      REDIS_URL: redis.url,
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: 'j'.repeat(40),
      OTP_SECRET: 'o'.repeat(40),
      API_KEYS: `soak:${API_KEY}`,
      ADMIN_API_KEYS: `admin:${ADMIN_KEY}`,
      SMTP_FROM: 'OTP <otp@example.com>',
      TWILIO_FROM: '+14155550100',
      SMS_PROVIDERS: 'twilio',
      // All load comes from one address: the per-IP limit is not what this run measures.
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
      ...guard,
    },
    { mainJs: MAIN_JS, cwd: scratch },
  );

  try {
    const url = await service.listening(60_000);
    log(
      `service on ${url}; ${settings.seconds}s at ${settings.rate}/s, ${settings.pumpShare * 100}% pumping ${PUMPED}; ${JSON.stringify(guard)}`,
    );
    const pumped = { attempted: 0, accepted: 0, refused: new Map<string, number>(), firstSuspendedAfter: undefined as number | undefined };
    const legitimate = {
      attempted: 0,
      accepted: 0,
      refused: new Map<string, number>(),
      approved: 0,
      abandoned: 0,
      checkFailed: new Map<string, number>(),
    };
    const pending = new Set<Promise<void>>();
    const started = Date.now();
    const pumpedNumbers = new Set<string>();

    const typeCode = async (id: string, to: string) => {
      if (Math.random() < settings.abandon) return void (legitimate.abandoned += 1);
      // A person reads the text and types the code within a few seconds.
      const deadline = Date.now() + 15_000;
      let code: string | undefined;
      while (!code && Date.now() < deadline) {
        code = twilio.messages
          .filter((message) => message.To === to)
          .map((message) => /\b(\d{6})\b/.exec(message.Body ?? '')?.[1])
          .findLast(Boolean);
        if (!code) await sleep(200);
      }
      await sleep(randomInt(1000, 8000));
      const checked = await api(url, 'POST', '/v1/verifications/check', { id, code: code ?? '000000' }).catch((): Answer => ({
        status: 0,
        body: {},
      }));
      if (checked.status === 200) legitimate.approved += 1;
      else tally(legitimate.checkFailed, String(checked.body.code ?? checked.status));
    };

    const sendOne = async (pump: boolean) => {
      const countries = Object.keys(LEGITIMATE);
      const to = pump ? nextPumped() : LEGITIMATE[countries[randomInt(0, countries.length)]!]!();
      const stats = pump ? pumped : legitimate;
      stats.attempted += 1;
      if (pump) pumpedNumbers.add(to);
      const answer = await api(url, 'POST', '/v1/verifications', { channel: 'sms', to }).catch((error: Error): Answer => ({
        status: 0,
        body: { code: error.name },
      }));
      if (answer.status === 201) {
        stats.accepted += 1;
        if (!pump) await typeCode(answer.body.id as string, to);
        return;
      }
      tally(stats.refused, String(answer.body.code ?? answer.status));
      // A pumping bot told its range is spent moves on to the next one.
      if (pump && answer.body.code === 'DESTINATION_THROTTLED') pumpNumber = (Math.floor(pumpNumber / 1000) + 1) * 1000;
      if (pump && answer.body.code === 'DESTINATION_SUSPENDED' && pumped.firstSuspendedAfter === undefined)
        pumped.firstSuspendedAfter = (Date.now() - started) / 1000;
    };

    for (let tick = 0; Date.now() < started + settings.seconds * 1000; tick++) {
      const due = started + (tick * 1000) / settings.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const task = sendOne(Math.random() < settings.pumpShare);
      pending.add(task);
      void task.finally(() => pending.delete(task));
      if (tick > 0 && tick % (settings.rate * 15) === 0) {
        log(
          `pumped ${pumped.accepted}/${pumped.attempted} out; legitimate ${legitimate.accepted}/${legitimate.attempted} out, ${[...legitimate.refused.values()].reduce((a, b) => a + b, 0)} refused`,
        );
      }
    }
    await Promise.allSettled([...pending]);
    await sleep(1000);

    const textsOut = twilio.messages.filter((message) => pumpedNumbers.has(message.To ?? '')).length;
    const view = await api(url, 'GET', '/v1/admin/fraud', undefined, ADMIN_KEY);
    const legitimateRefused = [...legitimate.refused.values()].reduce((sum, n) => sum + n, 0);
    const lines = [
      '',
      '=== fraud soak summary ===',
      `duration             ${settings.seconds}s at ${settings.rate}/s, ${settings.pumpShare * 100}% pumping ${PUMPED}, ${settings.abandon * 100}% of legitimate codes never typed`,
      `pumped               ${pumped.attempted} sends, ${pumped.accepted} accepted, ${textsOut} texts out at Twilio; refused: ${[...pumped.refused].map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`,
      `                     ${PUMPED} first answered DESTINATION_SUSPENDED ${pumped.firstSuspendedAfter === undefined ? 'never' : `after ${pumped.firstSuspendedAfter.toFixed(0)} s`}`,
      `legitimate           ${legitimate.attempted} sends, ${legitimate.accepted} accepted, ${legitimateRefused} refused${legitimate.refused.size ? ` (${[...legitimate.refused].map(([code, n]) => `${code} ${n}`).join(', ')})` : ''}`,
      `                     ${legitimate.approved} codes typed and approved, ${legitimate.abandoned} abandoned${legitimate.checkFailed.size ? `, checks failed: ${[...legitimate.checkFailed].map(([code, n]) => `${code} ${n}`).join(', ')}` : ''}`,
      `admin view           ${JSON.stringify(view.body)}`,
    ];
    const problems: string[] = [];
    if (legitimateRefused > 0) problems.push(`${legitimateRefused} legitimate send(s) refused`);
    if (pumped.attempted > 0 && pumped.accepted === pumped.attempted) problems.push('no pumped send was refused');
    lines.push(problems.length ? `RESULT: FAIL — ${problems.join('; ')}` : 'RESULT: PASS');
    console.log(lines.join('\n'));
    process.exitCode = problems.length ? 1 : 0;
  } finally {
    service.kill();
    await Promise.all([redis.stop(), twilio.close(), smtp.stop()]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
