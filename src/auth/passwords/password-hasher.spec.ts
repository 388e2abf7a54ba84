import { PasswordHasher } from './password-hasher.js';

async function medianMs(runs: number, action: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await action();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher({ passwordHashConcurrency: 4 });
  beforeAll(() => hasher.onModuleInit());

  it('hashes with argon2id at 19 MiB, 2 passes, 1 lane', async () => {
    expect(await hasher.hash('correct horse battery staple')).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[\w+/]+\$[\w+/]+$/);
  });

  it('salts every hash', async () => {
    expect(await hasher.hash('same password')).not.toBe(await hasher.hash('same password'));
  });

  it('accepts the right password', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
  });

  it('refuses a wrong password', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(await hasher.verify(hash, 'correct horse battery stapler')).toBe(false);
  });

  it('answers false, not an error, for a hash that is not argon2', async () => {
    expect(await hasher.verify('plain-text-password', 'plain-text-password')).toBe(false);
  });

  it('fails a dummy verification', async () => {
    expect(await hasher.verifyAgainstDummy('any password')).toBe(false);
  });

  it('spends about as long on a dummy verification as on a real one', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    const real = await medianMs(5, () => hasher.verify(hash, 'wrong password'));
    const dummy = await medianMs(5, () => hasher.verifyAgainstDummy('wrong password'));
    // Loose bounds for a busy machine; skipping the hash work entirely would be ~100x faster.
    expect(dummy).toBeGreaterThan(real * 0.4);
    expect(dummy).toBeLessThan(real * 2.5);
  });
});
