import { JwtModule, JwtService } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { createHmac } from 'node:crypto';
import { authConfig } from '../../config/config.namespaces.js';
import type { AuthConfig } from '../../config/configuration.types.js';
import { Database } from '../../database/database.constants.js';
import { InvalidAccessTokenError } from '../auth.errors.js';
import { UsersRepository } from '../users/users.repository.js';
import { jwtOptionsFor } from './jwt-options.js';
import { SigningKeys } from './signing-keys.js';
import { TokensService } from './tokens.service.js';

const SECRET = 'unit-test-jwt-secret-0123456789abcdef';
const USER_ID = '6f1c2c8e-3c0e-4d57-9a39-2a3c1b7e9d10';
const SESSION_ID = '0b7c6a2e-51f4-4b8e-9d0a-3c2f1e4d5a6b';
const AUTH: AuthConfig = {
  jwtAlgorithm: 'HS256',
  jwtSecret: SECRET,
  jwtSecretGenerated: false,
  jwtPrivateKey: undefined,
  jwtPrivateKeyGenerated: false,
  jwtPreviousPublicKeys: [],
  apiKeys: [],
  sessions: { refreshTokenTtlDays: 30, maxDays: 90 },
};

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

function unsigned(header: object, payload: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode(header)}.${encode(payload)}.`;
}

/** HS256 with the right secret, claims exactly as given: what someone holding the secret could sign. */
function handSigned(payload: object): string {
  const body = unsigned({ alg: 'HS256', typ: 'JWT' }, payload).slice(0, -1);
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

describe('TokensService access tokens', () => {
  let tokens: TokensService;
  let jwt: JwtService;
  // Signing and verifying touch neither the database nor the users.
  beforeEach(async () => {
    const keys = new SigningKeys(AUTH);
    const moduleRef = await Test.createTestingModule({
      imports: [JwtModule.register(jwtOptionsFor(keys))],
      providers: [
        TokensService,
        { provide: SigningKeys, useValue: keys },
        { provide: UsersRepository, useValue: {} },
        { provide: Database, useValue: {} },
        { provide: authConfig.KEY, useValue: AUTH },
      ],
    }).compile();
    tokens = moduleRef.get(TokensService);
    jwt = moduleRef.get(JwtService);
  });

  it('signs HS256 with issuer, audience, subject, session and a token id', async () => {
    const { header, payload } = decode(await tokens.signAccessToken(USER_ID, SESSION_ID));
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ iss: 'otp-gateway', aud: 'otp-gateway-api', sub: USER_ID, sid: SESSION_ID });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('makes access tokens live 15 minutes', async () => {
    const { payload } = decode(await tokens.signAccessToken(USER_ID, SESSION_ID));
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('gives every token its own id', async () => {
    const first = decode(await tokens.signAccessToken(USER_ID, SESSION_ID)).payload.jti;
    const second = decode(await tokens.signAccessToken(USER_ID, SESSION_ID)).payload.jti;
    expect(first).not.toBe(second);
  });

  it('accepts its own tokens and returns their claims', async () => {
    const claims = await tokens.verifyAccessToken(await tokens.signAccessToken(USER_ID, SESSION_ID));
    expect(claims).toMatchObject({ sub: USER_ID, sid: SESSION_ID, iss: 'otp-gateway', aud: 'otp-gateway-api' });
  });

  it('accepts a hand-signed token with every required claim (the baseline of the refusals below)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: USER_ID, sid: SESSION_ID, jti: 'x', iss: 'otp-gateway', aud: 'otp-gateway-api', iat: now, exp: now + 900 };
    await expect(tokens.verifyAccessToken(handSigned(claims))).resolves.toMatchObject({ sub: USER_ID, sid: SESSION_ID });
  });

  it.each(['exp', 'iat', 'iss', 'aud', 'sid', 'sub', 'jti'])(
    'refuses a token signed with the right secret but without %s',
    async (claim) => {
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        sub: USER_ID,
        sid: SESSION_ID,
        jti: 'x',
        iss: 'otp-gateway',
        aud: 'otp-gateway-api',
        iat: now,
        exp: now + 900,
      };
      delete claims[claim];
      await expect(tokens.verifyAccessToken(handSigned(claims))).rejects.toThrow(InvalidAccessTokenError);
    },
  );

  it('refuses a token that claims to live longer than access tokens do', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: USER_ID,
      sid: SESSION_ID,
      jti: 'x',
      iss: 'otp-gateway',
      aud: 'otp-gateway-api',
      iat: now,
      exp: now + 365 * 86_400,
    };
    await expect(tokens.verifyAccessToken(handSigned(claims))).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a session id that is not one', async () => {
    const token = await jwt.signAsync({ sid: "x' OR 1=1" }, { subject: USER_ID, jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses an unsigned token with alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = unsigned(
      { alg: 'none', typ: 'JWT' },
      { sub: USER_ID, jti: 'x', iss: 'otp-gateway', aud: 'otp-gateway-api', iat: now, exp: now + 900 },
    );
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token signed with the right secret but another algorithm', async () => {
    const token = await jwt.signAsync({ sid: SESSION_ID }, { algorithm: 'HS512', subject: USER_ID, jwtid: 'x' });
    expect(decode(token).header.alg).toBe('HS512');
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token for another audience', async () => {
    const token = await jwt.signAsync({ sid: SESSION_ID }, { audience: 'another-api', subject: USER_ID, jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token from another issuer', async () => {
    const token = await jwt.signAsync({ sid: SESSION_ID }, { issuer: 'someone-else', subject: USER_ID, jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses an expired token', async () => {
    const issued = Math.floor(Date.now() / 1000) - 901;
    const token = await jwt.signAsync({ iat: issued, sid: SESSION_ID }, { subject: USER_ID, jwtid: 'x' });
    expect(decode(token).payload.exp).toBe(issued + 900);
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await jwt.signAsync(
      { sid: SESSION_ID },
      { secret: 'another-secret-0123456789abcdefghijkl', subject: USER_ID, jwtid: 'x' },
    );
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token without a subject', async () => {
    const token = await jwt.signAsync({ sid: SESSION_ID }, { jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses text that is not a token', async () => {
    await expect(tokens.verifyAccessToken('not-a-token')).rejects.toThrow(InvalidAccessTokenError);
  });
});
