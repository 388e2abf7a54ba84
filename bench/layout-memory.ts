import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { digestCode, shortDigestCode } from '../src/otp/codes/otp-codes.js';
import { destinationKey, entryId } from '../src/otp/destination-hash.js';
import { toHash } from '../src/otp/store/verification-hash.js';
import { mintVerificationId, verificationKey } from '../src/otp/verification-key.js';
import { previousLayoutHash, sentEmailVerification } from '../test/support/previous-verification-hash.js';
import { RedisServer } from '../test/support/redis-server.js';

/**
 * `npm run bench:layout`: Redis memory per pending verification in the previous version's layout and in
 * this version's (verification-hash.ts, verification-key.ts, destination-hash.ts). Each layout on a fresh
 * redis-server: LAYOUT_VERIFICATIONS (default 100,000) delivered
 * email verifications, each with its destination's hash, written as the store and the send limiter leave
 * them after `npm run bench`'s memory phase (same address length, limits and delivery fields), then
 * `used_memory` per verification and one of each key's MEMORY USAGE. Deterministic: no timing involved.
 */
const COUNT = Number(process.env.LAYOUT_VERIFICATIONS ?? 100_000);
const SECRET = 'layout-secret-0123456789abcdefghijkl';
const CODE = '482913';
const BATCH = 1_000;

type Layout = 'previous version' | 'this version';

async function measure(layout: Layout): Promise<{ perVerification: number; verification: number; destination: number }> {
  const redis = await RedisServer.start();
  const client = new Redis(redis.url);
  try {
    const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1]);
    const before = await usedMemory();
    const current = layout === 'this version';
    // This version writes a destination's times in whole seconds, rounded up.
    const time = (ms: number) => (current ? Math.ceil(ms / 1000) : ms);
    const now = Date.now();
    let sample = { verification: '', destination: '' };
    for (let start = 0; start < COUNT; start += BATCH) {
      const pipeline = client.pipeline();
      for (let n = start; n < Math.min(COUNT, start + BATCH); n++) {
        const id = current ? mintVerificationId() : randomUUID();
        // As long as the bench's addresses: `service-<6 hex>-memory-<n>@bench.example.com`.
        const to = `service-abcdef-memory-${n}@bench.example.com`;
        const sent = sentEmailVerification(id, to, now);
        // Delivered 20 ms after it was created: the delivery's report changed it then.
        const record = {
          ...sent,
          digest: current ? shortDigestCode(SECRET, id, CODE) : digestCode(SECRET, id, 'login', CODE),
          updatedAt: now + 20,
          delivery: { ...sent.delivery, updatedAt: now + 20 },
        };
        const hash = current ? toHash(record) : previousLayoutHash(record);
        const key = verificationKey(id);
        // `m1`: the delivery ledger's mark of the send that went out.
        pipeline.hset(key, { ...hash, m1: 1 }).pexpire(key, 600_000 + 86_400_000);
        const destination = destinationKey(to);
        pipeline
          .hset(destination, {
            ac: time(now + 30_000),
            ah: 1,
            ahw: time(now + 3_600_000),
            ad: 1,
            adw: time(now + 86_400_000),
            'a:login': `${time(record.expiresAt)}:${entryId(id)}`,
          })
          .pexpire(destination, 86_400_000);
        if (n === 0) sample = { verification: key, destination };
      }
      await pipeline.exec();
    }
    const usage = async (key: string) => Number(await client.memory('USAGE', key, 'SAMPLES', '0'));
    return {
      perVerification: ((await usedMemory()) - before) / COUNT,
      verification: await usage(sample.verification),
      destination: await usage(sample.destination),
    };
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

async function main() {
  console.log(`Redis memory per pending verification, ${COUNT.toLocaleString('en')} delivered email verifications per layout`);
  const results = new Map<Layout, Awaited<ReturnType<typeof measure>>>();
  for (const layout of ['previous version', 'this version'] as const) results.set(layout, await measure(layout));
  const baseline = results.get('previous version')!;
  for (const [layout, { perVerification, verification, destination }] of results) {
    console.log(
      `  ${layout.padEnd(16)} used_memory ${perVerification.toFixed(1)} B per verification (${(perVerification / baseline.perVerification).toFixed(3)} × the previous version's); ` +
        `MEMORY USAGE: verification ${verification} B, destination ${destination} B`,
    );
  }
  const current = results.get('this version')!.perVerification;
  console.log(`  [${current <= 600 ? 'met' : 'MISSED'}] Redis <= 600 B per pending verification (${current.toFixed(0)} B)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
