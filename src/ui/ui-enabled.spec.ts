import { TEST_JWT_PRIVATE_KEY } from '../../test/support/environments.js';
import { loadConfiguration } from '../config/load-configuration.js';

/** The production environment of the configuration's own tests, complete enough to start. */
const PRODUCTION = {
  NODE_ENV: 'production',
  REDIS_URL: 'redis://redis:6379',
  DATABASE_URL: 'postgres://otp:secret@db:5432/otp',
  JWT_SECRET: 'j'.repeat(40),
  JWT_PRIVATE_KEY: TEST_JWT_PRIVATE_KEY,
  OTP_SECRET: 'o'.repeat(40),
  API_KEYS: 'backend:0123456789abcdef0123',
  SMTP_HOST: 'smtp.example.com',
  SMTP_FROM: 'no-reply@example.com',
  OTP_CHANNELS: 'email',
};

describe('UI_ENABLED', () => {
  it('is on by default in development and test', () => {
    expect(loadConfiguration({ NODE_ENV: 'development' }).configuration.app.uiEnabled).toBe(true);
    expect(loadConfiguration({ NODE_ENV: 'test' }).configuration.app.uiEnabled).toBe(true);
  });

  it('is off by default in production, and on there only when set', () => {
    const byDefault = loadConfiguration(PRODUCTION);
    expect(byDefault.problems).toEqual([]);
    expect(byDefault.configuration.app.uiEnabled).toBe(false);
    expect(loadConfiguration({ ...PRODUCTION, UI_ENABLED: 'true' }).configuration.app.uiEnabled).toBe(true);
  });

  it('takes true or false only', () => {
    const { problems, configuration } = loadConfiguration({ ...PRODUCTION, UI_ENABLED: 'sometimes' });
    expect(problems.map((problem) => problem.message)).toEqual(['UI_ENABLED must be true or false']);
    expect(configuration.app.uiEnabled).toBe(false);
  });
});
