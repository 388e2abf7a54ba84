import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess } from '../support/service-process.js';

/**
 * The built service in development without JWT_PRIVATE_KEY: it makes a signing key on the first start,
 * keeps it in ./.data/jwt-private-key.pem (0600), and publishes the same key after a restart, so access
 * tokens survive it. Needs `npm run build` first.
 */
describe('the development token signing key', () => {
  let cwd: string;
  let service: ServiceProcess | undefined;
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'otp-gateway-jwt-key-'));
  });
  afterAll(async () => {
    service?.kill();
    await service?.exited;
    rmSync(cwd, { recursive: true, force: true });
  });

  const file = () => join(cwd, '.data', 'jwt-private-key.pem');
  const start = () => ServiceProcess.start({ NODE_ENV: 'development', PORT: '0' }, { cwd });
  const stop = async (running: ServiceProcess) => {
    running.signal('SIGTERM');
    expect((await running.exited).code).toBe(0);
  };
  const kidsOf = async (url: string) =>
    ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);

  it('is made on the first start, kept in ./.data/ (0600), and published unchanged after a restart', async () => {
    service = start();
    const first = await kidsOf(await service.listening(60_000));
    expect(first).toHaveLength(1);
    const pem = readFileSync(file(), 'utf8');
    expect(createPrivateKey(pem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    // Never printed: the key is a secret, even in development.
    expect(service.output).not.toContain(pem.split('\n')[1]!);
    await stop(service);

    service = start();
    expect(await kidsOf(await service.listening(60_000))).toEqual(first);
    expect(readFileSync(file(), 'utf8')).toBe(pem);
    await stop(service);
  }, 120_000);

  it('replaces a file that holds no usable key', async () => {
    writeFileSync(file(), 'not a key\n');
    service = start();
    expect(await kidsOf(await service.listening(60_000))).toHaveLength(1);
    expect(createPrivateKey(readFileSync(file(), 'utf8')).type).toBe('private');
    await stop(service);
  }, 120_000);
});
