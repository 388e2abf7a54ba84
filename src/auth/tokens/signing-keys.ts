import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  type KeyObject,
  sign,
} from 'node:crypto';
import type { AuthConfig } from '../../config/configuration.types.js';

/** A public key as `/.well-known/jwks.json` publishes it: never more than these members, so never a private part. */
export interface PublishedJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/**
 * The keys of access tokens, parsed once at start-up into KeyObjects: handed a PEM or a text secret, the
 * JWT library would parse it again on every signature and every verification (and first try a text secret
 * as a private key). ES256 signs with JWT_PRIVATE_KEY and verifies with its public half or, during a
 * rotation, with one of JWT_PREVIOUS_PUBLIC_KEYS, chosen by the token's `kid`; HS256 uses JWT_SECRET both ways.
 */
export class SigningKeys {
  readonly algorithm: 'ES256' | 'HS256';
  readonly signingKey: KeyObject;
  /** ES256: the RFC 7638 thumbprint of the current key, in every token's header. */
  readonly kid: string | undefined;
  private readonly verifying = new Map<string, KeyObject>();
  private readonly published: PublishedJwk[] = [];
  /** The encoded JOSE header of every token signed here, as the JWT library writes it (alg, typ, then kid). */
  private readonly encodedHeader: string;

  constructor(auth: Pick<AuthConfig, 'jwtAlgorithm' | 'jwtSecret' | 'jwtPrivateKey' | 'jwtPreviousPublicKeys'>) {
    this.algorithm = auth.jwtAlgorithm;
    if (auth.jwtAlgorithm === 'HS256' || auth.jwtPrivateKey === undefined) {
      this.algorithm = 'HS256';
      this.signingKey = createSecretKey(Buffer.from(auth.jwtSecret, 'utf8'));
      this.kid = undefined;
    } else {
      this.signingKey = createPrivateKey(auth.jwtPrivateKey);
      this.kid = this.publish(createPublicKey(this.signingKey));
      for (const pem of auth.jwtPreviousPublicKeys) this.publish(createPublicKey(pem));
    }
    this.encodedHeader = base64url(
      JSON.stringify({ alg: this.algorithm, typ: 'JWT', ...(this.kid !== undefined ? { kid: this.kid } : {}) }),
    );
  }

  /**
   * A compact JWS of these claims with the current key, as the JWT library would sign it: every sign-in
   * signs one, and the library's option checks and signing stream cost several times the signature itself.
   * ES256 signatures are r || s (IEEE P1363), as RFC 7518 requires, not DER.
   */
  sign(claims: object): string {
    const input = `${this.encodedHeader}.${base64url(JSON.stringify(claims))}`;
    const signature =
      this.algorithm === 'HS256'
        ? createHmac('sha256', this.signingKey).update(input).digest('base64url')
        : sign('sha256', Buffer.from(input), { key: this.signingKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    return `${input}.${signature}`;
  }

  /** The key a token's signature must check against: by its `kid` with ES256; undefined when no key of ours has that id. */
  verificationKeyFor(token: string): KeyObject | undefined {
    if (this.algorithm === 'HS256') return this.signingKey;
    const kid = headerOf(token)?.kid;
    return typeof kid === 'string' ? this.verifying.get(kid) : undefined;
  }

  /** The JSON Web Key Set of `/.well-known/jwks.json`: the current key first, then the previous ones; empty with HS256. */
  jwks(): { keys: PublishedJwk[] } {
    return { keys: this.published.map((jwk) => ({ ...jwk })) };
  }

  private publish(key: KeyObject): string {
    const jwk = key.export({ format: 'jwk' });
    const kid = thumbprint(jwk);
    if (!this.verifying.has(kid)) {
      this.verifying.set(kid, key);
      this.published.push({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y!, kid, alg: 'ES256', use: 'sig' });
    }
    return kid;
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** RFC 7638: SHA-256 of the required members of an EC key, in lexicographic order, without white space. */
function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function headerOf(token: string): Record<string, unknown> | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? (header as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
