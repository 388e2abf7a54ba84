import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { ServiceProcess } from './support/service-process.js';

/**
 * The typed client in clients/typescript/: its generated types are what the served OpenAPI document
 * generates (so a route changed without `npm run client:generate` fails here), and its example runs
 * as the README gives it, against the embedded development server.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCHEMA = `${ROOT}clients/typescript/src/schema.d.ts`;

describe('clients/typescript/src/schema.d.ts', () => {
  let service: TestApp;
  beforeAll(async () => {
    service = await startApp({});
  });
  afterAll(() => service.close());

  it('is what npm run client:generate makes of the document the service serves', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['scripts/client-generate.js', '--from', `${service.url}/docs-json`, '--stdout'],
      {
        cwd: ROOT,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(stdout.length).toBeGreaterThan(10_000);
    // Compared whole and by line count first, so a failure says at once how far apart they are.
    const committed = readFileSync(SCHEMA, 'utf8');
    expect(committed.split('\n').length).toBe(stdout.split('\n').length);
    expect(committed).toBe(stdout);
  });
});

it('runs the example of the README against the development server: sign-up, a wrong code, the right one, me, refresh, logout', async () => {
  const service = ServiceProcess.start({ NODE_ENV: 'development', PORT: '0' });
  try {
    const url = await service.listening(60_000);
    const example = spawn('npm', ['run', '--silent', 'client:example'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', OTP_GATEWAY_URL: url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    example.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    example.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => example.once('exit', resolve));

    await eventually(async () => expect(output).toContain('Code: '), 30_000);
    const email = /Signed up (\S+);/.exec(output)?.[1];
    expect(email).toMatch(/^newcomer-\d+@example\.com$/);
    // Where a newcomer finds it: the console provider's line in the service's log.
    const [, code] = await service.waitForOutput(new RegExp(`code (\\d+) for ${email!.replace(/\./g, '\\.')} `));
    example.stdin.write(`${code === '000000' ? '111111' : '000000'}\n`);
    await eventually(async () => expect(output).toContain('Not that one: 4 attempts left.'));
    example.stdin.write(`Your code is ${code}\n`);

    expect(await exited).toBe(0);
    expect(output).toContain(`GET /v1/auth/me: ${email}, verified: true`);
    expect(output).toContain('Signed out: the access token is now refused (401 TOKEN_REVOKED).');
  } finally {
    service.signal('SIGTERM');
    await service.exited;
  }
}, 90_000);
