import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ServiceProcess } from './support/service-process.js';

/**
 * A fresh clone's first command (`npm start`: the built service in development mode, no API_KEYS)
 * prints a key, and the README's next curl sends a code with it. Needs `npm run build` first.
 */
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const KEY_LINE = /development API key \(API_KEYS is not set; kept in \.\/\.data\/api-key, send it as X-Api-Key\): (\S+)/;

/** The README's first curl that sends a code with the development key, continuation lines joined. */
function readmeSendCommand(): string {
  const lines = README.split('\n');
  const start = lines.findIndex((line) => line.startsWith('curl ') && line.includes('/v1/verifications') && line.includes('.data/api-key'));
  if (start < 0) throw new Error('README has no curl that sends with .data/api-key');
  let command = '';
  for (let i = start; ; i++) {
    const line = lines[i]!;
    command += line.replace(/\\$/, ' ');
    if (!line.endsWith('\\')) break;
  }
  return command.replace(/#.*$/, '').trim();
}

describe('the development API key', () => {
  let cwd: string;
  let service: ServiceProcess | undefined;
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'otp-gateway-clone-'));
  });
  afterAll(async () => {
    service?.kill();
    await service?.exited;
    rmSync(cwd, { recursive: true, force: true });
  });

  // No API_KEYS, no stores, no providers: what `npm ci && npm start` runs in a fresh clone.
  const start = () => ServiceProcess.start({ NODE_ENV: 'development', PORT: '0' }, { cwd });
  const stop = async (running: ServiceProcess) => {
    running.signal('SIGTERM');
    expect((await running.exited).code).toBe(0);
  };

  it("is generated on the first start, printed, kept in ./.data/api-key (0600), and the README's curl sends a code with it", async () => {
    service = start();
    const [, key] = await service.waitForOutput(KEY_LINE, 60_000);
    const url = await service.listening(60_000);
    // Development binds loopback only, and says so.
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(service.output).toContain('(this machine only)');
    expect(service.output).not.toContain('API_KEYS is not set: /v1/verifications answers 401');

    const file = join(cwd, '.data', 'api-key');
    expect(readFileSync(file, 'utf8').trim()).toBe(key);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const command = readmeSendCommand().replace('localhost:3000', url.replace('http://', ''));
    const { stdout } = await promisify(execFile)('sh', ['-c', command], { cwd });
    expect(JSON.parse(stdout)).toMatchObject({ status: 'pending', channel: 'email', delivery: { status: 'queued' } });

    const without = await fetch(`${url}/v1/verifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"channel":"email","to":"a@example.com"}',
    });
    expect(without.status).toBe(401);
    await stop(service);
  }, 120_000);

  it('is the same key after a restart', async () => {
    const key = readFileSync(join(cwd, '.data', 'api-key'), 'utf8').trim();
    service = start();
    const [, printed] = await service.waitForOutput(KEY_LINE, 60_000);
    expect(printed).toBe(key);
    const url = await service.listening(60_000);
    const sent = await fetch(`${url}/v1/verifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ channel: 'email', to: 'after-restart@example.com' }),
    });
    expect(sent.status).toBe(201);
    await stop(service);
  }, 120_000);
});
