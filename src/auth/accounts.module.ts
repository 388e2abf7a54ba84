import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { authConfig } from '../config/config.namespaces.js';
import type { AuthConfig } from '../config/configuration.types.js';
import { PasswordHasher } from './passwords/password-hasher.js';
import { JwtAuthGuard } from './tokens/jwt-auth.guard.js';
import { jwtOptionsFor } from './tokens/jwt-options.js';
import { TokensService } from './tokens/tokens.service.js';
import { UsersRepository } from './users/users.repository.js';

/**
 * Accounts and sessions: users, password hashes, tokens and the Bearer guard. Needs only the global
 * DatabaseModule and configuration, so it can be tested without messaging or Redis.
 */
@Module({
  imports: [JwtModule.registerAsync({ inject: [authConfig.KEY], useFactory: (auth: AuthConfig) => jwtOptionsFor(auth) })],
  providers: [UsersRepository, PasswordHasher, TokensService, JwtAuthGuard],
  exports: [UsersRepository, PasswordHasher, TokensService, JwtAuthGuard],
})
export class AccountsModule {}
