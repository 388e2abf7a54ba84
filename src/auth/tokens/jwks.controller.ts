import { Controller, Get, Header, VERSION_NEUTRAL } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { JwksResponse } from '../dto/auth-responses.js';
import { type PublishedJwk, SigningKeys } from './signing-keys.js';

/** Where an application's backend finds the keys to verify access tokens with, without sharing a secret. */
@Controller({ path: '.well-known', version: VERSION_NEUTRAL })
@ApiTags('auth')
export class JwksController {
  constructor(private readonly keys: SigningKeys) {}

  @Get('jwks.json')
  // Verifiers cache it; a rotation keeps the old key published (JWT_PREVIOUS_PUBLIC_KEYS) for longer than this.
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({
    summary: 'The public keys of access tokens (JSON Web Key Set)',
    description:
      'With `JWT_ALGORITHM=ES256`: the current key, then the keys of `JWT_PREVIOUS_PUBLIC_KEYS`; each `kid` is the RFC 7638 thumbprint ' +
      'that tokens carry in their header. Empty with HS256, whose tokens only a holder of `JWT_SECRET` can verify.',
  })
  @ApiOkResponse({ type: JwksResponse })
  jwks(): { keys: PublishedJwk[] } {
    return this.keys.jwks();
  }
}
