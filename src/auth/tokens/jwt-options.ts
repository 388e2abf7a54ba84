import type { JwtModuleOptions } from '@nestjs/jwt';
import type { AuthConfig } from '../../config/configuration.types.js';
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  ACCESS_TOKEN_TTL_SECONDS,
} from './tokens.constants.js';

/**
 * Algorithm, issuer and audience are pinned on both sides: a token signed with `alg: none`, another
 * algorithm, or for another service is refused even when its signature would check out.
 */
export function jwtOptionsFor(auth: AuthConfig): JwtModuleOptions {
  return {
    secret: auth.jwtSecret,
    signOptions: {
      algorithm: ACCESS_TOKEN_ALGORITHM,
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
    },
    verifyOptions: {
      algorithms: [ACCESS_TOKEN_ALGORITHM],
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
    },
  };
}
