import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { TokensService } from '../../src/auth/tokens/tokens.service.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { LOOSE_LIMITS } from '../support/environments.js';

function newKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** What an application's backend does with a token: verify it against the published keys, with a standard library. */
async function verifiedByBackend(serviceUrl: string, token: string) {
  const keys = createRemoteJWKSet(new URL('/.well-known/jwks.json', serviceUrl));
  return jwtVerify(token, keys, { issuer: 'otp-gateway', audience: 'otp-gateway-api', algorithms: ['ES256'] });
}

/**
 * ES256 access tokens and their published keys: verified by `jose` as another service would, across a key
 * rotation that restarts the service with a new key and the old one in JWT_PREVIOUS_PUBLIC_KEYS.
 */
describe.each(testDatabaseKinds())('published token keys on %s', (kind) => {
  let database: TestDatabase;
  let inboxes: Inboxes;
  let service: TestApp | undefined;
  const first = newKeyPair();
  const second = newKeyPair();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    inboxes = await Inboxes.start();
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
    await database?.drop();
  });

  const env = (extra: Record<string, string>) => ({ ...inboxes.env(), ...LOOSE_LIMITS, DATABASE_URL: database.url, JWT_SECRET, ...extra });
  const run = `${kind.toLowerCase()}${Date.now() % 100_000}`;

  async function signedUp(app: TestApp, email: string) {
    const registered = await call(app.url, 'POST', '/v1/auth/register', { email, password: 'a-long-password-1' });
    expect(registered.status).toBe(201);
    const verified = await call(app.url, 'POST', '/v1/auth/otp/verify', {
      challengeId: registered.body.challengeId,
      code: await inboxes.nextCode(email),
    });
    expect(verified.status).toBe(200);
    return verified.body as { accessToken: string; refreshToken: string; user: { id: string } };
  }

  it('signs ES256 with a kid that is the RFC 7638 thumbprint of a published key, which no private part ever leaves', async () => {
    service = await startApp(env({ JWT_PRIVATE_KEY: first.privateKey }));
    const { accessToken, user } = await signedUp(service, `keys1.${run}@example.com`);
    const jwks = await call(service.url, 'GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('content-type')).toMatch(/^application\/json/);
    const keys = jwks.body.keys as Array<Record<string, string>>;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: expect.any(String),
      y: expect.any(String),
      kid: expect.any(String),
      alg: 'ES256',
      use: 'sig',
    });
    for (const key of keys) for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(privatePart);
    expect(keys[0]!.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: keys[0]!.x, y: keys[0]!.y }, 'sha256'));

    expect(decodeProtectedHeader(accessToken)).toEqual({ alg: 'ES256', typ: 'JWT', kid: keys[0]!.kid });
    const { payload } = await verifiedByBackend(service.url, accessToken);
    expect(payload).toMatchObject({ sub: user.id, iss: 'otp-gateway', aud: 'otp-gateway-api' });
  });

  it('keeps tokens of the old key verifiable after a rotation that moved it to JWT_PREVIOUS_PUBLIC_KEYS', async () => {
    await service?.close();
    service = await startApp(env({ JWT_PRIVATE_KEY: first.privateKey }));
    const before = await signedUp(service, `keys2.${run}@example.com`);
    const oldKid = decodeProtectedHeader(before.accessToken).kid;
    await service.close();

    service = await startApp(env({ JWT_PRIVATE_KEY: second.privateKey, JWT_PREVIOUS_PUBLIC_KEYS: first.publicKey }));
    const keys = (await call(service.url, 'GET', '/.well-known/jwks.json')).body.keys as Array<Record<string, string>>;
    expect(keys.map((key) => key.kid)).toHaveLength(2);
    expect(keys[1]!.kid).toBe(oldKid);
    for (const key of keys) expect(key).not.toHaveProperty('d');

    // Another service verifies both the old token and a new one from the one key set.
    expect((await verifiedByBackend(service.url, before.accessToken)).payload.sub).toBe(before.user.id);
    const after = await signedUp(service, `keys3.${run}@example.com`);
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(keys[0]!.kid);
    expect((await verifiedByBackend(service.url, after.accessToken)).payload.sub).toBe(after.user.id);
    // So does the service itself; where the database outlived the restart, the old token still opens the account.
    await expect(service.app.get(TokensService).verifyAccessToken(before.accessToken)).resolves.toMatchObject({ sub: before.user.id });
    if (kind === 'PostgreSQL') {
      expect((await call(service.url, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${before.accessToken}` })).status).toBe(
        200,
      );
    }
    await service.close();

    // Once the old key is dropped, its tokens are refused.
    service = await startApp(env({ JWT_PRIVATE_KEY: second.privateKey }));
    await expect(verifiedByBackend(service.url, before.accessToken)).rejects.toThrow();
    expect(await call(service.url, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${before.accessToken}` })).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
  });

  it('refuses a token signed by a key it does not publish, even with a kid it does', async () => {
    await service?.close();
    service = await startApp(env({ JWT_PRIVATE_KEY: first.privateKey }));
    const { accessToken } = await signedUp(service, `keys4.${run}@example.com`);
    await service.close();
    // Another service with a key of its own, forging our kid in the header.
    const stranger = newKeyPair();
    service = await startApp(env({ JWT_PRIVATE_KEY: stranger.privateKey }));
    const forged = (await signedUp(service, `keys5.${run}@example.com`)).accessToken;
    await service.close();
    service = await startApp(env({ JWT_PRIVATE_KEY: first.privateKey }));
    const [, payload, signature] = forged.split('.');
    const header = Buffer.from(JSON.stringify(decodeProtectedHeader(accessToken))).toString('base64url');
    await expect(service.app.get(TokensService).verifyAccessToken(`${header}.${payload}.${signature}`)).rejects.toThrow();
  });

  it('signs HS256 with JWT_SECRET when JWT_ALGORITHM says so, and then publishes no key', async () => {
    await service?.close();
    service = await startApp(env({ JWT_ALGORITHM: 'HS256' }));
    const { accessToken } = await signedUp(service, `keys6.${run}@example.com`);
    expect(decodeProtectedHeader(accessToken)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect((await call(service.url, 'GET', '/.well-known/jwks.json')).body).toEqual({ keys: [] });
    expect((await call(service.url, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${accessToken}` })).status).toBe(200);
  });
});
