import { JwtSecretRequestType, type JwtModuleOptions } from '@nestjs/jwt';
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, ACCESS_TOKEN_TTL_SECONDS } from './tokens.constants.js';
import type { SigningKeys } from './signing-keys.js';

/**
 * Algorithm, issuer and audience are pinned on both sides: a token signed with `alg: none`, another
 * algorithm, or for another service is refused even when its signature would check out. The keys are
 * KeyObjects made once (SigningKeys), never text the library would parse per token.
 */
export function jwtOptionsFor(keys: SigningKeys): JwtModuleOptions {
  return {
    // A key given to one call (`secret`) still wins, as JwtService documents.
    secretOrKeyProvider: (type, tokenOrPayload, options) =>
      (options as { secret?: string } | undefined)?.secret ??
      (type === JwtSecretRequestType.SIGN ? keys.signingKey : (keys.verificationKeyFor(String(tokenOrPayload)) ?? '')),
    signOptions: {
      algorithm: keys.algorithm,
      ...(keys.kid !== undefined ? { keyid: keys.kid } : {}),
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
    },
    verifyOptions: {
      algorithms: [keys.algorithm],
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
    },
  };
}
