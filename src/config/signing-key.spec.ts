import { createPublicKey } from 'node:crypto';
import { COMPLETE_PRODUCTION, TEST_JWT_PRIVATE_KEY } from '../../test/support/environments.js';
import { loadConfiguration } from './load-configuration.js';

const messagesOf = (env: Record<string, string | undefined>) => loadConfiguration(env).problems.map((p) => p.message);

describe('the access-token signing key', () => {
  it('is ES256 by default, and production refuses to start without JWT_PRIVATE_KEY', () => {
    expect(loadConfiguration(COMPLETE_PRODUCTION).configuration.auth).toMatchObject({
      jwtAlgorithm: 'ES256',
      jwtPrivateKeyGenerated: false,
    });
    expect(messagesOf({ ...COMPLETE_PRODUCTION, JWT_PRIVATE_KEY: undefined })).toEqual([
      'JWT_PRIVATE_KEY is required in production when JWT_ALGORITHM is ES256 (it signs access tokens)',
    ]);
  });

  it('is not needed in production with HS256, which still needs JWT_SECRET', () => {
    const hs256 = { ...COMPLETE_PRODUCTION, JWT_ALGORITHM: 'HS256', JWT_PRIVATE_KEY: undefined };
    expect(loadConfiguration(hs256).problems).toEqual([]);
    expect(loadConfiguration(hs256).configuration.auth.jwtPrivateKey).toBeUndefined();
    expect(messagesOf({ ...hs256, JWT_SECRET: undefined })).toContain('JWT_SECRET is required in production (it signs access tokens)');
  });

  it('refuses a value that is not a P-256 private key in PEM, without repeating it', () => {
    const rsa = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----';
    const messages = messagesOf({ ...COMPLETE_PRODUCTION, JWT_PRIVATE_KEY: rsa });
    expect(messages).toEqual(['JWT_PRIVATE_KEY must be a private key in PEM (-----BEGIN PRIVATE KEY-----, as openssl genpkey writes it)']);
    expect(messagesOf({ ...COMPLETE_PRODUCTION, JWT_ALGORITHM: 'RS256' })).toEqual(['JWT_ALGORITHM must be ES256 or HS256']);
  });

  it('reads a PEM written on one line with \\n escapes, as .env files hold it', () => {
    const oneLine = TEST_JWT_PRIVATE_KEY.replaceAll('\n', '\\n');
    expect(loadConfiguration({ ...COMPLETE_PRODUCTION, JWT_PRIVATE_KEY: oneLine }).configuration.auth.jwtPrivateKey).toBe(
      TEST_JWT_PRIVATE_KEY,
    );
  });

  it('reads previous public keys one PEM block after another, and names a block that is not one', () => {
    const list = `${publicOf(TEST_JWT_PRIVATE_KEY)}\n${publicOf(TEST_JWT_PRIVATE_KEY)}`;
    expect(
      loadConfiguration({ ...COMPLETE_PRODUCTION, JWT_PREVIOUS_PUBLIC_KEYS: list }).configuration.auth.jwtPreviousPublicKeys,
    ).toHaveLength(2);
    const bad = `${publicOf(TEST_JWT_PRIVATE_KEY)}\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----`;
    expect(messagesOf({ ...COMPLETE_PRODUCTION, JWT_PREVIOUS_PUBLIC_KEYS: bad })).toEqual([
      'JWT_PREVIOUS_PUBLIC_KEYS must hold only P-256 (ES256) public keys in PEM; not one: key 2',
    ]);
  });

  it('is made for the run in development (then kept in ./.data/) and in test, where JWT_SECRET decides it', () => {
    const development = loadConfiguration({}).configuration.auth;
    expect(development).toMatchObject({ jwtPrivateKeyGenerated: true, developmentJwtKeyFile: './.data/jwt-private-key.pem' });
    const test = (env: Record<string, string>) => loadConfiguration({ NODE_ENV: 'test', ...env }).configuration.auth;
    const secret = { JWT_SECRET: 'a-test-jwt-secret-0123456789abcdefghij' };
    expect(test(secret).jwtPrivateKey).toBe(test(secret).jwtPrivateKey);
    expect(test(secret).jwtPrivateKey).not.toBe(test({ JWT_SECRET: 'another-test-jwt-secret-0123456789abc' }).jwtPrivateKey);
    expect(test({}).jwtPrivateKey).not.toBe(test({}).jwtPrivateKey);
    expect(test(secret).developmentJwtKeyFile).toBeUndefined();
  });
});

function publicOf(privatePem: string): string {
  return createPublicKey(privatePem).export({ type: 'spki', format: 'pem' }).toString();
}
