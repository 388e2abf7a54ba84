import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PasswordHasher } from './passwords/password-hasher.js';
import { JwtAuthGuard } from './tokens/jwt-auth.guard.js';
import { jwtOptionsFor } from './tokens/jwt-options.js';
import { SigningKeys } from './tokens/signing-keys.js';
import { SigningKeysModule } from './tokens/signing-keys.module.js';
import { TokensService } from './tokens/tokens.service.js';
import { UsersRepository } from './users/users.repository.js';

/**
 * Accounts and sessions: users, password hashes, tokens and the Bearer guard. Needs only the global
 * DatabaseModule and configuration, so it can be tested without messaging or Redis.
 */
@Module({
  imports: [SigningKeysModule, JwtModule.registerAsync({ imports: [SigningKeysModule], inject: [SigningKeys], useFactory: jwtOptionsFor })],
  providers: [UsersRepository, PasswordHasher, TokensService, JwtAuthGuard],
  exports: [UsersRepository, PasswordHasher, TokensService, JwtAuthGuard, SigningKeysModule],
})
export class AccountsModule {}
