import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

/**
 * The yardstick for `npm run bench`: the same three routes as the service with the least Redis work
 * a send and a check need, and nothing else (no framework, validation, logging or metrics). Whatever
 * the service spends beyond this is what the benchmark's ratios show.
 *
 * Send: one pipelined round trip (per-IP rate-limit INCR + EXPIRE, SET of the code's digest with a TTL,
 * a push onto a queue list). Check: one Lua script (rate limit, compare, count a wrong code, delete on
 * approval). The queue items carry the code in clear, so the benchmark can read the codes back the way
 * it reads the service's from the SMTP server.
 */

export const BASELINE_QUEUE = 'baseline:queue';
const SECRET = 'baseline-secret-0123456789abcdef0123456789';
const TTL_SECONDS = 600;
const MAX_ATTEMPTS = 100;
const RATE_LIMIT_PER_MINUTE = 1_000_000;

/** KEYS: rate, digest, attempts. ARGV: candidate digest, limit, max attempts. */
const CHECK_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('EXPIRE', KEYS[1], 60) end
if hits > tonumber(ARGV[2]) then return 3 end
local stored = redis.call('GET', KEYS[2])
if not stored then return 0 end
if stored == ARGV[1] then
  redis.call('DEL', KEYS[2], KEYS[3])
  return 1
end
local attempts = redis.call('INCR', KEYS[3])
if attempts == 1 then redis.call('EXPIRE', KEYS[3], ${TTL_SECONDS}) end
if attempts >= tonumber(ARGV[3]) then redis.call('DEL', KEYS[2]) end
return 2
`;

type Scripted = Redis & {
  baselineCheck(rate: string, digest: string, attempts: string, candidate: string, limit: number, max: number): Promise<number>;
};

const digestOf = (id: string, code: string) => createHmac('sha256', SECRET).update(`${id}\0${code}`).digest('hex');

async function main(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') as Scripted;
  redis.defineCommand('baselineCheck', { numberOfKeys: 3, lua: CHECK_SCRIPT });
  const app = Fastify({ logger: false });

  app.get('/health/live', async () => ({ status: 'ok' }));

  app.post('/v1/verifications', async (request, reply) => {
    const { to } = request.body as { to: string };
    const id = randomUUID();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const rate = `baseline:rate:send:${request.ip}`;
    const results = await redis
      .pipeline()
      .incr(rate)
      .expire(rate, 60)
      .set(`baseline:v:${id}`, digestOf(id, code), 'EX', TTL_SECONDS)
      .lpush(BASELINE_QUEUE, JSON.stringify({ id, to, code }))
      .exec();
    if (Number(results?.[0]?.[1]) > RATE_LIMIT_PER_MINUTE) return reply.code(429).send({ code: 'RATE_LIMITED' });
    return reply.code(201).send({ id, status: 'pending' });
  });

  app.post('/v1/verifications/check', async (request, reply) => {
    const { id, code } = request.body as { id: string; code: string };
    const verdict = await redis.baselineCheck(
      `baseline:rate:check:${request.ip}`,
      `baseline:v:${id}`,
      `baseline:v:${id}:attempts`,
      digestOf(id, code),
      RATE_LIMIT_PER_MINUTE,
      MAX_ATTEMPTS,
    );
    if (verdict === 1) return reply.code(200).send({ id, status: 'approved' });
    if (verdict === 2) return reply.code(422).send({ code: 'OTP_INCORRECT' });
    if (verdict === 3) return reply.code(429).send({ code: 'RATE_LIMITED' });
    return reply.code(404).send({ code: 'VERIFICATION_NOT_FOUND' });
  });

  const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
  console.log(`Listening on ${address}`);
  const stop = () =>
    void app
      .close()
      .then(() => redis.quit())
      .finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Run as a process by the benchmark; imported only for BASELINE_QUEUE.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
