import { Body, Controller, Get, HttpCode, Patch, Post, Res, UseGuards } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { ClientInfo, type ClientMeta } from '../common/request-meta.decorator.js';
import { IpThrottlerGuard } from '../otp/limits/ip-throttler.guard.js';
import { AuthService, type Challenge, type ResentChallenge, type StartedChallenge } from './auth.service.js';
import { LoginDto, LogoutDto, RefreshTokenDto, RegisterDto, ResendOtpDto, StartOtpDto, UpdateMeDto, VerifyOtpDto } from './dto/auth.dto.js';
import { CurrentUser, OptionalCurrentUser } from './tokens/current-user.decorator.js';
import { JwtAuthGuard } from './tokens/jwt-auth.guard.js';
import { OptionalJwtAuthGuard } from './tokens/optional-jwt-auth.guard.js';
import type { TokenPair } from './tokens/tokens.service.js';
import { type PublicUser, toPublicUser, type User } from './users/user.js';

/** End-user sign-up, login and session routes. Every route that sends or checks something is limited per client IP. */
@Controller('auth')
@UseGuards(IpThrottlerGuard)
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('register')
  @HttpCode(201)
  register(@Body() body: RegisterDto, @ClientInfo() client: ClientMeta): Promise<{ userId: string } & Challenge> {
    return this.auth.register(body, client);
  }

  @Post('login')
  @HttpCode(200)
  login(@Body() body: LoginDto, @ClientInfo() client: ClientMeta): Promise<Challenge> {
    return this.auth.login(body, client);
  }

  @Post('otp/start')
  @HttpCode(202)
  startOtp(@Body() body: StartOtpDto, @ClientInfo() client: ClientMeta): Promise<StartedChallenge> {
    return this.auth.startOtp(body, client);
  }

  /** Public; a contact change is completed here too, with the Bearer token of the account that asked for it. */
  @Post('otp/verify')
  @HttpCode(200)
  @UseGuards(OptionalJwtAuthGuard)
  verify(@Body() body: VerifyOtpDto, @OptionalCurrentUser() user: User | undefined, @ClientInfo() client: ClientMeta): Promise<TokenPair> {
    return this.auth.verify(body, user, client);
  }

  @Post('otp/resend')
  @HttpCode(202)
  resend(@Body() body: ResendOtpDto, @ClientInfo() client: ClientMeta): Promise<ResentChallenge> {
    return this.auth.resend(body, client);
  }

  @Post('token/refresh')
  @HttpCode(200)
  refresh(@Body() body: RefreshTokenDto, @ClientInfo() client: ClientMeta): Promise<TokenPair> {
    return this.auth.refresh(body.refreshToken, client);
  }

  @Post('logout')
  @HttpCode(204)
  @SkipThrottle()
  @UseGuards(JwtAuthGuard)
  async logout(@Body() body: LogoutDto): Promise<void> {
    await this.auth.logout(body.refreshToken);
  }

  @Get('me')
  @SkipThrottle()
  @UseGuards(JwtAuthGuard)
  me(@CurrentUser() user: User): PublicUser {
    return toPublicUser(user);
  }

  /** Limited like the send routes: a new contact is sent a code. 200 with the account, or 202 with that code's challenge. */
  @Patch('me')
  @UseGuards(JwtAuthGuard)
  async updateMe(
    @CurrentUser() user: User,
    @Body() body: UpdateMeDto,
    @ClientInfo() client: ClientMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PublicUser | Challenge> {
    const update = await this.auth.updateMe(user, body, client);
    if ('applied' in update) return update.applied;
    reply.status(202);
    return update.pending;
  }
}
