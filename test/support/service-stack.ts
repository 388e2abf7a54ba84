import { Redis } from 'ioredis';
import { TEST_API_KEY } from './app.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from './databases.js';
import { COMPLETE_PRODUCTION, GENEROUS_FRAUD_GUARD, localProduction, reachableProviders, TEST_JWT_PRIVATE_KEY } from './environments.js';
import { Inboxes } from './auth-inboxes.js';
import type { FakeTwilio } from './fake-twilio.js';
import { RedisServer } from './redis-server.js';
import { ServiceProcess } from './service-process.js';
import type { SmtpTestServer } from './smtp-test-server.js';

/**
 * `development` runs everywhere: Redis is real and shared, and each process keeps an embedded
 * database of its own (verifications, limits and the queue live in Redis). `production` needs a
 * real PostgreSQL (TEST_DATABASE_URL), which every process then shares.
 */
export type StackMode = 'development' | 'production';

export function availableStackModes(): StackMode[] {
  return postgresServerUrl() ? ['development', 'production'] : ['development'];
}

/** The same secrets for every process of a stack: a code sealed or hashed by one must open on another. */
const SHARED_SECRETS = {
  JWT_SECRET: 'jwt-secret-stack-0123456789abcdefghij',
  JWT_PRIVATE_KEY: TEST_JWT_PRIVATE_KEY,
  OTP_SECRET: 'otp-secret-stack-0123456789abcdefghij',
  API_KEYS: TEST_API_KEY,
};

/**
 * One private Redis, an SMTP server, fake Twilio and (with PostgreSQL) one database, and any number
 * of built service processes on them, each on its own port.
 */
export class ServiceStack {
  private readonly processes: ServiceProcess[] = [];

  private constructor(
    readonly mode: StackMode,
    readonly redis: RedisServer,
    /** What the SMTP server and fake Twilio received, codes included. */
    readonly inboxes: Inboxes,
    readonly database: TestDatabase | undefined,
  ) {}

  get smtp(): SmtpTestServer {
    return this.inboxes.smtp;
  }

  get twilio(): FakeTwilio {
    return this.inboxes.twilio;
  }

  /** `shareDatabase` gives development processes one PostgreSQL database too, when there is one. */
  static async start(mode: StackMode, options: { shareDatabase?: boolean } = {}): Promise<ServiceStack> {
    const [redis, inboxes] = await Promise.all([RedisServer.start(), Inboxes.start()]);
    const wantsDatabase = mode === 'production' || (options.shareDatabase === true && postgresServerUrl() !== undefined);
    const database = wantsDatabase ? await createTestDatabase('PostgreSQL') : undefined;
    return new ServiceStack(mode, redis, inboxes, database);
  }

  get environment(): Record<string, string> {
    if (this.mode === 'production') {
      // The complete environment's own secrets, so a test can look for them in the log; plus the key `call()` sends.
      const servers = { redisUrl: this.redis.url, databaseUrl: this.database!.url!, smtp: this.smtp, twilio: this.twilio };
      return { ...localProduction(servers), ...GENEROUS_FRAUD_GUARD, API_KEYS: `${COMPLETE_PRODUCTION.API_KEYS},${TEST_API_KEY}` };
    }
    return {
      NODE_ENV: 'development',
      ...reachableProviders(this.smtp, this.twilio),
      REDIS_URL: this.redis.url,
      PORT: '0',
      HOST: '127.0.0.1',
      ...(this.database ? { DATABASE_URL: this.database.url! } : {}),
      ...SHARED_SECRETS,
      SMTP_FROM: 'OTP <otp@example.com>',
      TWILIO_FROM: '+14155550100',
      // Real providers only: a message printed to the log instead would hide a lost delivery.
      EMAIL_PROVIDERS: 'smtp',
      SMS_PROVIDERS: 'twilio',
      ...GENEROUS_FRAUD_GUARD,
    };
  }

  /** A service process on this stack; `env` adds to or overrides the stack's environment. */
  async startService(env: Record<string, string> = {}): Promise<{ process: ServiceProcess; url: string }> {
    const service = ServiceProcess.start({ ...this.environment, ...env });
    this.processes.push(service);
    // An embedded database per process makes start-up slow when several start at once on a busy machine.
    return { process: service, url: await service.listening(45_000) };
  }

  /** A client of the stack's Redis, to look at the delivery queue's own keys. */
  redisClient(): Redis {
    return new Redis(this.redis.url, { maxRetriesPerRequest: 1, lazyConnect: false });
  }

  async close(): Promise<void> {
    for (const service of this.processes.splice(0)) service.kill();
    await Promise.all([this.redis.stop(), this.inboxes.close()]);
    await this.database?.drop();
  }
}
