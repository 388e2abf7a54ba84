import { JwtModule, JwtService } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { Database } from '../../database/database.constants.js';
import { InvalidAccessTokenError } from '../auth.errors.js';
import { UsersRepository } from '../users/users.repository.js';
import { jwtOptionsFor } from './jwt-options.js';
import { TokensService } from './tokens.service.js';

const SECRET = 'unit-test-jwt-secret-0123456789abcdef';
const USER_ID = '6f1c2c8e-3c0e-4d57-9a39-2a3c1b7e9d10';

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

function unsigned(header: object, payload: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode(header)}.${encode(payload)}.`;
}

describe('TokensService access tokens', () => {
  let tokens: TokensService;
  let jwt: JwtService;
  // Signing and verifying touch neither the database nor the users.
  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [JwtModule.register(jwtOptionsFor({ jwtSecret: SECRET, jwtSecretGenerated: false, apiKeys: [] }))],
      providers: [TokensService, { provide: UsersRepository, useValue: {} }, { provide: Database, useValue: {} }],
    }).compile();
    tokens = moduleRef.get(TokensService);
    jwt = moduleRef.get(JwtService);
  });

  it('signs HS256 with issuer, audience, subject and a token id', async () => {
    const { header, payload } = decode(await tokens.signAccessToken(USER_ID));
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ iss: 'otp-gateway', aud: 'otp-gateway-api', sub: USER_ID });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('makes access tokens live 15 minutes', async () => {
    const { payload } = decode(await tokens.signAccessToken(USER_ID));
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('gives every token its own id', async () => {
    const first = decode(await tokens.signAccessToken(USER_ID)).payload.jti;
    const second = decode(await tokens.signAccessToken(USER_ID)).payload.jti;
    expect(first).not.toBe(second);
  });

  it('accepts its own tokens and returns their claims', async () => {
    const claims = await tokens.verifyAccessToken(await tokens.signAccessToken(USER_ID));
    expect(claims).toMatchObject({ sub: USER_ID, iss: 'otp-gateway', aud: 'otp-gateway-api' });
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
    const token = await jwt.signAsync({}, { algorithm: 'HS512', subject: USER_ID, jwtid: 'x' });
    expect(decode(token).header.alg).toBe('HS512');
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token for another audience', async () => {
    const token = await jwt.signAsync({}, { audience: 'another-api', subject: USER_ID, jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token from another issuer', async () => {
    const token = await jwt.signAsync({}, { issuer: 'someone-else', subject: USER_ID, jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses an expired token', async () => {
    const issued = Math.floor(Date.now() / 1000) - 901;
    const token = await jwt.signAsync({ iat: issued }, { subject: USER_ID, jwtid: 'x' });
    expect(decode(token).payload.exp).toBe(issued + 900);
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await jwt.signAsync({}, { secret: 'another-secret-0123456789abcdefghijkl', subject: USER_ID, jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses a token without a subject', async () => {
    const token = await jwt.signAsync({}, { jwtid: 'x' });
    await expect(tokens.verifyAccessToken(token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('refuses text that is not a token', async () => {
    await expect(tokens.verifyAccessToken('not-a-token')).rejects.toThrow(InvalidAccessTokenError);
  });
});
