import { postgresServerUrl } from './support/databases.js';
import { COMPLETE_PRODUCTION } from './support/environments.js';
import { eventually } from './support/eventually.js';
import { freePort } from './support/free-port.js';
import { ServiceProcess } from './support/service-process.js';
import { ServiceStack } from './support/service-stack.js';

/** Every secret, each with a value that is easy to find in a log. */
const SECRETS: Record<string, string> = {
  JWT_SECRET: 'jwt-secret-e2e-value-0123456789abcdef',
  OTP_SECRET: 'otp-secret-e2e-value-0123456789abcdef',
  API_KEYS: 'api-key-e2e-value-0001,api-key-e2e-value-0002',
  OTP_TEST_DESTINATIONS: 'review@example.com:246810',
  OTP_FIXED_CODE: '135790',
  SMTP_PASSWORD: 'smtp-password-e2e-value',
  TWILIO_AUTH_TOKEN: 'fedcba9876543210fedcba9876543210',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-e2e-value-000111',
  SENDGRID_API_KEY: 'SG.sendgrid-e2e-part1.sendgrid-e2e-part2',
};

// Production needs a real PostgreSQL: those tests run when TEST_DATABASE_URL names one (.ci/run does).
const itInProduction = postgresServerUrl() ? it : it.skip;

/** A complete production environment on a private Redis, a PostgreSQL database, an SMTP server and fake Twilio. */
async function withProductionStack(run: (stack: ServiceStack) => Promise<void>): Promise<void> {
  const stack = await ServiceStack.start('production');
  try {
    await run(stack);
  } finally {
    await stack.close();
  }
}

async function expectDocs(url: string): Promise<void> {
  const page = await fetch(`${url}/docs`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toContain('text/html');
  expect(await page.text()).toContain('swagger-ui-bundle.js');
  const bundle = await fetch(`${url}/docs/swagger-ui-bundle.js`);
  await bundle.arrayBuffer();
  expect(bundle.status).toBe(200);
  const document = (await (await fetch(`${url}/docs-json`)).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/verifications', '/v1/auth/me', '/health/ready']));
}

describe('the built service as a process', () => {
  const started: ServiceProcess[] = [];
  const start = (env: Record<string, string>) => {
    const service = ServiceProcess.start(env);
    started.push(service);
    return service;
  };
  afterEach(() => started.splice(0).forEach((service) => service.kill()));

  it('refuses to start in production with an empty environment, naming each missing variable on its own line', async () => {
    const service = start({ NODE_ENV: 'production', PORT: '0' });
    const begun = Date.now();
    const { code } = await service.exited;
    expect(Date.now() - begun).toBeLessThan(10_000);
    expect(code).not.toBe(0);
    const lines = service.output.split('\n');
    for (const name of [
      'REDIS_URL',
      'DATABASE_URL',
      'JWT_SECRET',
      'OTP_SECRET',
      'API_KEYS',
      'SMTP_HOST',
      'SMTP_FROM',
      'TWILIO_ACCOUNT_SID',
      'TWILIO_AUTH_TOKEN',
      'TWILIO_FROM',
    ]) {
      // A line of its own, or the first of the alternatives that would do ("REDIS_URL, REDIS_CLUSTER_NODES or …").
      expect(
        lines.filter((line) => [`"${name} is required`, `"${name} or `, `"${name}, `].some((start) => line.includes(start))),
      ).toHaveLength(1);
    }
    expect(service.output).not.toMatch(/^\s+at /m);
    expect(service.output).not.toContain('Listening on');
  });

  it('starts in development with every secret set and prints none of them', async () => {
    const service = start({
      NODE_ENV: 'development',
      PORT: '0',
      HOST: '127.0.0.1',
      ...SECRETS,
      SMTP_USER: 'mailer',
      SMTP_HOST: '127.0.0.1',
      SMTP_FROM: 'otp@example.com',
    });
    const url = await service.listening();
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    service.signal('SIGTERM');
    expect((await service.exited).code).toBe(0);
    for (const value of Object.values(SECRETS)) {
      for (const part of value.split(/[,:]/)) expect(service.output).not.toContain(part);
    }
    expect(service.output).toContain(`SMTP_PASSWORD=****(${SECRETS.SMTP_PASSWORD!.length})`);
  });

  it('probes each configured provider once at start-up and says what it found, not only "configured"', async () => {
    const closed = await freePort();
    const service = start({
      NODE_ENV: 'development',
      PORT: '0',
      HOST: '127.0.0.1',
      EMAIL_PROVIDERS: 'smtp,console',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(closed),
      SMTP_FROM: 'otp@example.com',
    });
    // An embedded database is created first: slow on a busy machine.
    await service.listening(60_000);
    expect(service.output).toMatch(
      new RegExp(
        `channel email: 1\\. smtp \\(configured, probe failed: SMTP: connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\) -> 2\\. console`,
      ),
    );
    service.signal('SIGTERM');
    expect((await service.exited).code).toBe(0);
  }, 90_000);

  it('says when SIGTERM arrives, when the drain ends and when the process exits', async () => {
    const service = start({ NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '300' });
    await service.listening(60_000);
    service.signal('SIGTERM');
    expect((await service.exited).code).toBe(0);
    const lifecycle = service.output.split('\n').filter((line) => line.includes('[Lifecycle]'));
    expect(lifecycle).toEqual([
      expect.stringContaining('SIGTERM received: shutting down; readiness answers 503 while requests drain for 300 ms'),
      expect.stringContaining('drain over after 300 ms: new requests are refused; finishing in-flight requests and deliveries'),
      expect.stringContaining('exiting with code 0'),
    ]);
  }, 90_000);

  it('names DATABASE_URL when the database cannot be reached at start-up, and exits non-zero', async () => {
    const closed = await freePort();
    const service = start({
      NODE_ENV: 'development',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `postgres://otp:secret-pw-1@127.0.0.1:${closed}/otp`,
    });
    const { code } = await service.exited;
    expect(code).not.toBe(0);
    expect(service.output).toContain(
      `Start-up failed: DATABASE_URL: PostgreSQL at postgres://****(3):****(11)@127.0.0.1:${closed}/otp could not be reached or migrated: `,
    );
    expect(service.output).toMatch(/ECONNREFUSED/);
    expect(service.output).not.toContain('secret-pw-1');
    // The report still came first, for the operator reading why.
    expect(service.output).toMatch(/database: PostgreSQL at postgres:\/\/\*\*\*\*\(3\)/);
  }, 60_000);

  // The real process loads Nest as ES modules (jest maps it to a CommonJS copy), so /docs is checked here too.
  it('serves the API documentation from the built service', async () => {
    const service = start({ NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '0' });
    await expectDocs(await service.listening());
  });

  itInProduction('serves the API documentation in production', async () => {
    await withProductionStack(async (stack) => {
      const { url } = await stack.startService({ SHUTDOWN_DRAIN_MS: '0' });
      await expectDocs(url);
    });
  });

  itInProduction('answers readiness 503 from the moment SIGTERM arrives, keeps serving while it drains, then exits 0', async () => {
    await withProductionStack(async (stack) => {
      const { process: service, url } = await stack.startService({ SHUTDOWN_DRAIN_MS: '1500' });
      await eventually(async () => expect((await fetch(`${url}/health/ready`)).status).toBe(200));
      service.signal('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'error', error: { lifecycle: { status: 'down', message: 'shutting down' } } });
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      expect((await service.exited).code).toBe(0);
    });
  });

  itInProduction('logs JSON lines in production', async () => {
    await withProductionStack(async (stack) => {
      const { process: service } = await stack.startService({ SHUTDOWN_DRAIN_MS: '0' });
      service.signal('SIGTERM');
      await service.exited;
      const lines = service.output.trim().split('\n');
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(service.output).not.toContain(COMPLETE_PRODUCTION.JWT_SECRET);
      expect(service.output).not.toContain('hunter2hunter2');
    });
  });
});
