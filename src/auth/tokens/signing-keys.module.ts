import { Module } from '@nestjs/common';
import { authConfig } from '../../config/config.namespaces.js';
import type { AuthConfig } from '../../config/configuration.types.js';
import { SigningKeys } from './signing-keys.js';

/** One SigningKeys per application, shared by the JWT module that signs with it and the route that publishes it. */
@Module({
  providers: [{ provide: SigningKeys, inject: [authConfig.KEY], useFactory: (auth: AuthConfig) => new SigningKeys(auth) }],
  exports: [SigningKeys],
})
export class SigningKeysModule {}
