import { Module } from '@nestjs/common';
import { OtpModule } from '../otp/otp.module.js';
import { byRedis } from '../redis/redis-or-memory.js';
import { AccountsModule } from './accounts.module.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { LoginAttempts } from './passwords/login-attempts.js';
import { LoginFailures } from './passwords/login-failures.js';
import { MemoryLoginFailures } from './passwords/memory-login-failures.js';
import { RedisLoginFailures } from './passwords/redis-login-failures.js';
import { OptionalJwtAuthGuard } from './tokens/optional-jwt-auth.guard.js';

/** The end-user flows over HTTP: accounts and sessions, with codes from OtpService. Needs the global MessagingModule for notices. */
@Module({
  imports: [AccountsModule, OtpModule],
  controllers: [AuthController],
  providers: [AuthService, OptionalJwtAuthGuard, LoginAttempts, { provide: LoginFailures, ...byRedis<LoginFailures>(RedisLoginFailures, MemoryLoginFailures) }],
  exports: [AccountsModule],
})
export class AuthModule {}
