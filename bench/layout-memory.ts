import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { digestCode, shortDigestCode } from '../src/otp/codes/otp-codes.js';
import { destinationKey, entryId } from '../src/otp/destination-hash.js';
import { toHash } from '../src/otp/store/verification-hash.js';
import { mintVerificationId, verificationKey } from '../src/otp/verification-key.js';
import {
  oldestLayoutHash,
  olderLayoutHash,
  previousLayoutHash,
  sentEmailVerification,
} from '../test/support/previous-verification-hash.js';
import { RedisServer } from '../test/support/redis-server.js';

/**
 * `npm run bench:layout`: Redis memory per pending verification in the layout of each of the three versions
 * before this one and in this version's (verification-hash.ts, verification-key.ts, destination-hash.ts: since
 * this version, its codes together in one field, `PACKED_CODES`). Each layout on a fresh redis-server:
 * LAYOUT_VERIFICATIONS (default 100,000) delivered email verifications, each with its destination's
 * hash, written as the store and the send limiter leave them after `npm run bench`'s memory phase (same
 * address length, limits and delivery fields), then `used_memory` per verification and one of each key's
 * MEMORY USAGE. Each delivered 20 ms after its send, as with the queue running, and 150 s after, as in
 * `npm run bench`, whose queue holds every message until all 100,000 are sent: the later times take more
 * bytes in the hash. Deterministic: no timing involved.
 */
const COUNT = Number(process.env.LAYOUT_VERIFICATIONS ?? 100_000);
const SECRET = 'layout-secret-0123456789abcdefghijkl';
const CODE = '482913';
const BATCH = 1_000;

type Layout = 'three versions ago' | 'two versions ago' | 'previous version' | 'this version';

const LAYOUTS: readonly Layout[] = ['three versions ago', 'two versions ago', 'previous version', 'this version'];
const WRITERS = {
  'three versions ago': oldestLayoutHash,
  'two versions ago': olderLayoutHash,
  'previous version': previousLayoutHash,
  'this version': toHash,
};
/** How long after its send each delivery is recorded. */
const DELIVERY_DELAYS_MS = [20, 150_000];

async function measure(
  layout: Layout,
  deliveredAfterMs: number,
): Promise<{ perVerification: number; verification: number; destination: number }> {
  const redis = await RedisServer.start();
  const client = new Redis(redis.url);
  try {
    const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1]);
    const before = await usedMemory();
    const current = layout !== 'three versions ago';
    // Since two versions ago, a destination's times are whole seconds: a limit's end rounded down, an entry's expiry up.
    const end = (ms: number) => (current ? Math.floor(ms / 1000) : ms);
    const expiry = (ms: number) => (current ? Math.ceil(ms / 1000) : ms);
    const now = Date.now();
    let sample = { verification: '', destination: '' };
    for (let start = 0; start < COUNT; start += BATCH) {
      const pipeline = client.pipeline();
      for (let n = start; n < Math.min(COUNT, start + BATCH); n++) {
        const id = current ? mintVerificationId() : randomUUID();
        // As long as the bench's addresses: `service-<6 hex>-memory-<n>@bench.example.com`.
        const to = `service-abcdef-memory-${n}@bench.example.com`;
        const sent = sentEmailVerification(id, to, now);
        // The delivery's report changed it last.
        const record = {
          ...sent,
          digest: current ? shortDigestCode(SECRET, id, CODE) : digestCode(SECRET, id, 'login', CODE),
          updatedAt: now + deliveredAfterMs,
          delivery: { ...sent.delivery, updatedAt: now + deliveredAfterMs },
        };
        const hash = WRITERS[layout](record);
        const key = verificationKey(id);
        // `m1`: the delivery ledger's mark of the send that went out.
        pipeline.hset(key, { ...hash, m1: 1 }).pexpire(key, 600_000 + 86_400_000);
        const destination = destinationKey(to);
        pipeline
          .hset(destination, {
            ac: end(now + 30_000),
            ah: 1,
            ahw: end(now + 3_600_000),
            ad: 1,
            adw: end(now + 86_400_000),
            'a:login': `${expiry(record.expiresAt)}:${entryId(id)}`,
          })
          .pexpire(destination, 86_400_000);
        // The last: the longest address.
        if (n === COUNT - 1) sample = { verification: key, destination };
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
  let current = 0;
  for (const delay of DELIVERY_DELAYS_MS) {
    console.log(`delivered ${delay < 1000 ? `${delay} ms` : `${delay / 1000} s`} after the send:`);
    let baseline = 0;
    for (const layout of LAYOUTS) {
      const { perVerification, verification, destination } = await measure(layout, delay);
      baseline ||= perVerification;
      if (layout === 'this version' && delay === DELIVERY_DELAYS_MS[0]) current = perVerification;
      console.log(
        `  ${layout.padEnd(18)} used_memory ${perVerification.toFixed(1)} B per verification (${(perVerification / baseline).toFixed(3)} × ${LAYOUTS[0]}); ` +
          `MEMORY USAGE: verification ${verification} B, destination ${destination} B`,
      );
    }
  }
  console.log(
    `  [${current <= 600 ? 'met' : 'MISSED'}] Redis <= 600 B per pending verification (${current.toFixed(0)} B, this version, delivered as sent)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
