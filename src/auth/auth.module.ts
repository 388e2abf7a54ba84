import { Module } from '@nestjs/common';
import { OtpModule } from '../otp/otp.module.js';
import { AccountsModule } from './accounts.module.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { OptionalJwtAuthGuard } from './tokens/optional-jwt-auth.guard.js';

/** The end-user flows over HTTP: accounts and sessions, with codes from OtpService. Needs the global MessagingModule for notices. */
@Module({
  imports: [AccountsModule, OtpModule],
  controllers: [AuthController],
  providers: [AuthService, OptionalJwtAuthGuard],
  exports: [AccountsModule],
})
export class AuthModule {}
