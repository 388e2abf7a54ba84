import { jest } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InvalidAccessTokenError, TokenRevokedError } from '../auth.errors.js';
import type { User } from '../users/user.js';
import { UsersRepository } from '../users/users.repository.js';
import { type AuthenticatedRequest, JwtAuthGuard } from './jwt-auth.guard.js';
import { type AccessTokenClaims, TokensService } from './tokens.service.js';

const USER: User = {
  id: '6f1c2c8e-3c0e-4d57-9a39-2a3c1b7e9d10',
  email: 'ann@example.com',
  phone: null,
  passwordHash: null,
  emailVerifiedAt: new Date('2026-01-01T00:00:00Z'),
  phoneVerifiedAt: null,
  otpChannel: 'email',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  updatedAt: new Date('2026-01-01T00:00:00Z'),
  deletedAt: null,
  totpSecret: null,
  totpEnabledAt: null,
  totpLastStep: null,
  totpRecoveryCodes: null,
};
const SESSION_ID = '0b7c6a2e-51f4-4b8e-9d0a-3c2f1e4d5a6b';
const CLAIMS: AccessTokenClaims = { sub: USER.id, sid: SESSION_ID, jti: 'j', iss: 'otp-gateway', aud: 'otp-gateway-api', iat: 1, exp: 2 };
const TOKEN = 'aaa.bbb.ccc';

function contextFor(request: AuthenticatedRequest): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

describe('JwtAuthGuard', () => {
  let guard: JwtAuthGuard;
  let tokens: jest.Mocked<Pick<TokensService, 'verifyAccessToken' | 'isSessionLive'>>;
  let users: jest.Mocked<Pick<UsersRepository, 'findById'>>;

  beforeEach(async () => {
    tokens = {
      verifyAccessToken: jest.fn<TokensService['verifyAccessToken']>().mockResolvedValue(CLAIMS),
      isSessionLive: jest.fn<TokensService['isSessionLive']>().mockResolvedValue(true),
    };
    users = { findById: jest.fn<UsersRepository['findById']>().mockResolvedValue(USER) };
    const moduleRef = await Test.createTestingModule({
      providers: [JwtAuthGuard, { provide: TokensService, useValue: tokens }, { provide: UsersRepository, useValue: users }],
    }).compile();
    guard = moduleRef.get(JwtAuthGuard);
  });

  it('lets a valid bearer token of a live session through and attaches the user and the session', async () => {
    const request: AuthenticatedRequest = { headers: { authorization: `Bearer ${TOKEN}` } };
    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);
    expect(tokens.verifyAccessToken).toHaveBeenCalledWith(TOKEN);
    expect(users.findById).toHaveBeenCalledWith(USER.id);
    expect(tokens.isSessionLive).toHaveBeenCalledWith(SESSION_ID, USER.id);
    expect(request.user).toBe(USER);
    expect(request.sessionId).toBe(SESSION_ID);
  });

  it('refuses a valid token whose session has ended with TOKEN_REVOKED', async () => {
    tokens.isSessionLive.mockResolvedValue(false);
    const request: AuthenticatedRequest = { headers: { authorization: `Bearer ${TOKEN}` } };
    await expect(guard.canActivate(contextFor(request))).rejects.toThrow(TokenRevokedError);
    expect(request.user).toBeUndefined();
  });

  it('reads the scheme name case-insensitively, as HTTP defines it', async () => {
    await expect(guard.canActivate(contextFor({ headers: { authorization: `bearer ${TOKEN}` } }))).resolves.toBe(true);
  });

  it.each([
    ['no Authorization header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${TOKEN}`],
    ['a bearer without a token', 'Bearer '],
    ['a token that is not a JWT', 'Bearer abc'],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
  ])('refuses a request with %s, without verifying anything', async (_case, authorization) => {
    const request: AuthenticatedRequest = { headers: { authorization } };
    await expect(guard.canActivate(contextFor(request))).rejects.toThrow(InvalidAccessTokenError);
    expect(tokens.verifyAccessToken).not.toHaveBeenCalled();
    expect(request.user).toBeUndefined();
  });

  it('refuses a token the tokens service rejects', async () => {
    tokens.verifyAccessToken.mockRejectedValue(new InvalidAccessTokenError());
    await expect(guard.canActivate(contextFor({ headers: { authorization: `Bearer ${TOKEN}` } }))).rejects.toThrow(InvalidAccessTokenError);
    expect(users.findById).not.toHaveBeenCalled();
  });

  it('refuses a valid token whose user is gone or deleted with TOKEN_REVOKED', async () => {
    users.findById.mockResolvedValue(undefined);
    const request: AuthenticatedRequest = { headers: { authorization: `Bearer ${TOKEN}` } };
    await expect(guard.canActivate(contextFor(request))).rejects.toThrow(TokenRevokedError);
    expect(request.user).toBeUndefined();
  });
});
