import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { calculateJwkThumbprint, compactVerify } from 'jose';
import { jwtOptionsFor } from './jwt-options.js';
import { SigningKeys } from './signing-keys.js';

const SECRET = 'unit-test-jwt-secret-0123456789abcdef';

function newKey(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const headerFor = (header: object) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.e30.sig`;

describe('SigningKeys', () => {
  const current = newKey();
  const previous = newKey();
  const es256 = (previousKeys: string[] = []) =>
    new SigningKeys({ jwtAlgorithm: 'ES256', jwtSecret: SECRET, jwtPrivateKey: current.privateKey, jwtPreviousPublicKeys: previousKeys });

  it('names the current key by its RFC 7638 thumbprint, as jose computes it', async () => {
    const keys = es256();
    const jwk = createPublicKey(current.publicKey).export({ format: 'jwk' });
    expect(keys.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! }, 'sha256'));
    expect(keys.signingKey.type).toBe('private');
  });

  it('publishes the current key first, then the previous ones, with public members only', () => {
    const { keys } = es256([previous.publicKey]).jwks();
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(keys[0]!.kid).toBe(es256().kid);
  });

  it('picks the verification key by the kid in the token header, and none for an unknown or missing kid', () => {
    const keys = es256([previous.publicKey]);
    const [, old] = keys.jwks().keys;
    expect(keys.verificationKeyFor(headerFor({ alg: 'ES256', kid: keys.kid }))?.type).toBe('public');
    expect(keys.verificationKeyFor(headerFor({ alg: 'ES256', kid: old!.kid }))?.export({ format: 'jwk' }).x).toBe(old!.x);
    expect(keys.verificationKeyFor(headerFor({ alg: 'ES256', kid: 'someone-else' }))).toBeUndefined();
    expect(keys.verificationKeyFor(headerFor({ alg: 'ES256' }))).toBeUndefined();
    expect(keys.verificationKeyFor('not a token')).toBeUndefined();
  });

  it('lists a previous key that is also the current one once', () => {
    expect(es256([current.publicKey]).jwks().keys).toHaveLength(1);
  });

  it('with HS256, signs and verifies with JWT_SECRET as a secret KeyObject and publishes nothing', () => {
    const keys = new SigningKeys({
      jwtAlgorithm: 'HS256',
      jwtSecret: SECRET,
      jwtPrivateKey: undefined,
      jwtPreviousPublicKeys: [previous.publicKey],
    });
    expect(keys.algorithm).toBe('HS256');
    expect(keys.kid).toBeUndefined();
    expect(keys.signingKey.type).toBe('secret');
    expect(keys.verificationKeyFor(headerFor({ alg: 'HS256' }))).toBe(keys.signingKey);
    expect(keys.jwks()).toEqual({ keys: [] });
  });

  describe('sign', () => {
    const claims = { sid: 's', iat: 1_700_000_000, exp: 1_700_000_900, aud: 'otp-gateway-api', iss: 'otp-gateway', sub: 'u', jti: 'j' };
    const jwtService = (keys: SigningKeys) => new JwtService(jwtOptionsFor(keys));
    /** The same claims as the JWT library signs them with the module's options, at the same time. */
    const librarySigned = (keys: SigningKeys) => jwtService(keys).sign({ sid: 's', iat: claims.iat }, { subject: 'u', jwtid: 'j' });
    const signedPart = (token: string) => token.split('.').slice(0, 2).join('.');

    it('signs ES256 as the JWT library does, and the library and jose verify it', async () => {
      const keys = es256();
      const token = keys.sign(claims);
      expect(signedPart(token)).toBe(signedPart(librarySigned(keys)));
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'))).toEqual({
        alg: 'ES256',
        typ: 'JWT',
        kid: keys.kid,
      });
      expect(jwtService(keys).verify(token, { ignoreExpiration: true })).toEqual(claims);
      const { payload } = await compactVerify(token, createPublicKey(current.publicKey), { algorithms: ['ES256'] });
      expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual(claims);
    });

    it('signs HS256 with JWT_SECRET exactly as the JWT library does', () => {
      const keys = new SigningKeys({ jwtAlgorithm: 'HS256', jwtSecret: SECRET, jwtPrivateKey: undefined, jwtPreviousPublicKeys: [] });
      expect(keys.sign(claims)).toBe(librarySigned(keys));
    });
  });
});
