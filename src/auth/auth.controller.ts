import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiSecurity,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { ApiErrors, BODY_ERRORS, type DocumentedErrors, FRAUD_REFUSALS, UNAVAILABLE } from '../common/api-errors.js';
import { BEARER_SCHEME } from '../common/openapi.js';
import { ClientInfo, type RequestMeta } from '../common/request-meta.decorator.js';
import { IpThrottlerGuard } from '../otp/limits/ip-throttler.guard.js';
import { ParseVerificationIdPipe } from '../otp/verification-id.pipe.js';
import { AuthService, type Challenge, type ChallengeStatus, type ResentChallenge, type StartedChallenge } from './auth.service.js';
import {
  ChallengeResponse,
  ChallengeStatusResponse,
  RecoveryCodesResponse,
  RegisterResponse,
  ResentChallengeResponse,
  SessionResponse,
  StartedChallengeResponse,
  TokenPairResponse,
  TotpEnrollmentResponse,
  UserResponse,
} from './dto/auth-responses.js';
import {
  LoginDto,
  LogoutDto,
  PasswordDto,
  RefreshTokenDto,
  RegisterDto,
  ResendOtpDto,
  StartOtpDto,
  TotpCodeDto,
  UpdateMeDto,
  VerifyOtpDto,
} from './dto/auth.dto.js';
import { SessionNotFoundError } from './auth.errors.js';
import { CurrentSessionId, CurrentUser, OptionalCurrentUser } from './tokens/current-user.decorator.js';
import { JwtAuthGuard } from './tokens/jwt-auth.guard.js';
import { OptionalJwtAuthGuard } from './tokens/optional-jwt-auth.guard.js';
import type { Session, TokenPair } from './tokens/tokens.service.js';
import type { TotpEnrollment } from './totp/totp.service.js';
import { type PublicUser, toPublicUser, type User } from './users/user.js';

/** Every code sent by these routes falls under the send limits of verifications, and every route is limited per client IP. */
const SEND_LIMITS: DocumentedErrors = {
  429: ['OTP_RESEND_TOO_SOON', 'OTP_RATE_LIMITED', 'OTP_MAX_SENDS', 'RATE_LIMITED'],
  503: ['CHANNEL_UNAVAILABLE'],
};
const CHECK_ERRORS: DocumentedErrors = {
  404: ['VERIFICATION_NOT_FOUND'],
  422: ['OTP_INCORRECT'],
  429: ['OTP_ATTEMPTS_EXCEEDED', 'RATE_LIMITED'],
};
/** A missing or invalid access token, or one whose session has ended (logout, password reset, revocation). */
const BEARER_ERRORS: DocumentedErrors = { 401: ['UNAUTHORIZED', 'TOKEN_REVOKED'] };
/** Routes that hash a password: more at once than PASSWORD_HASH_CONCURRENCY wait, for 2 s at most. */
const HASHING: DocumentedErrors = { 503: ['SERVICE_BUSY'] };
/** The current password, guessed at most `LOGIN_MAX_FAILURES` times per 15 minutes per account. */
const PASSWORD_CHECK: DocumentedErrors = { 401: ['INVALID_CREDENTIALS'], 429: ['LOGIN_RATE_LIMITED'] };
/** A session id in a path: a malformed one is answered like one that is not the caller's. */
const SESSION_ID = new ParseUUIDPipe({ exceptionFactory: () => new SessionNotFoundError() });

/** End-user sign-up, login and session routes. Every route that sends or checks something is limited per client IP. */
@Controller('auth')
@UseGuards(IpThrottlerGuard)
@ApiTags('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('register')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Sign up',
    description:
      'Creates the account and sends a code to its new contact; complete it at `POST /v1/auth/otp/verify`. ' +
      '`ACCOUNT_EXISTS` only when another account has verified the email address or phone number: an unverified claim blocks nobody, ' +
      'and whichever account verifies a contact first owns it (the others lose their unverified claim of it).',
  })
  @ApiResponse({ status: 201, type: RegisterResponse })
  @ApiErrors(BODY_ERRORS, { 409: ['ACCOUNT_EXISTS'] }, SEND_LIMITS, FRAUD_REFUSALS, UNAVAILABLE, HASHING)
  register(@Body() body: RegisterDto, @ClientInfo() client: RequestMeta): Promise<{ userId: string } & Challenge> {
    return this.auth.register(body, client);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Log in with a password',
    description:
      "Checks the password and sends the second factor to the account's preferred channel. An identifier the account has not verified " +
      'signs in only while the account has no verified contact at all. After `LOGIN_MAX_FAILURES` wrong passwords for one identifier ' +
      'in 15 minutes, `LOGIN_RATE_LIMITED` (for unknown accounts alike) until the window ends; `POST /v1/auth/otp/start` still works.',
  })
  @ApiResponse({ status: 200, type: ChallengeResponse })
  @ApiErrors(BODY_ERRORS, { 401: ['INVALID_CREDENTIALS'], 429: ['LOGIN_RATE_LIMITED'] }, SEND_LIMITS, FRAUD_REFUSALS, UNAVAILABLE, HASHING)
  login(@Body() body: LoginDto, @ClientInfo() client: RequestMeta): Promise<Challenge> {
    return this.auth.login(body, client);
  }

  @Post('otp/start')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Start passwordless login or a password reset',
    description: 'The same status, body shape and about the same time whether or not the account exists.',
  })
  @ApiResponse({ status: 202, type: StartedChallengeResponse })
  @ApiErrors(BODY_ERRORS, SEND_LIMITS, FRAUD_REFUSALS, UNAVAILABLE)
  startOtp(@Body() body: StartOtpDto, @ClientInfo() client: RequestMeta): Promise<StartedChallenge> {
    return this.auth.startOtp(body, client);
  }

  /** Public; a contact change is completed here too, with the Bearer token of the account that asked for it. */
  @Post('otp/verify')
  @HttpCode(200)
  @UseGuards(OptionalJwtAuthGuard)
  @ApiOperation({
    summary: 'Complete a flow with its code',
    description:
      'Marks the contact verified (sign-up), logs in, sets `newPassword` (password reset) or applies a contact change ' +
      '(with the Bearer token of the account that asked for it), and returns a token pair. A password reset of an account with an ' +
      "authenticator app on sets the password and ends every session, but returns the app's login challenge instead of tokens: " +
      'the sign-in completes here with its code, as after a password. A challenge of `channel: "totp"` takes ' +
      'the code the authenticator app shows (each time step once) or a `recoveryCode` (each once); wrong ones count toward the ' +
      "challenge's attempts and toward `LOGIN_MAX_FAILURES` of the account across challenges.",
  })
  @ApiSecurity({})
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiExtraModels(TokenPairResponse, ChallengeResponse)
  @ApiResponse({
    status: 200,
    description:
      "A token pair; or, for a password reset of an account with an authenticator app on, the app's login challenge " +
      '(`channel: "totp"`), to complete here with its code or a `recoveryCode`.',
    schema: { oneOf: [{ $ref: getSchemaPath(TokenPairResponse) }, { $ref: getSchemaPath(ChallengeResponse) }] },
  })
  @ApiErrors(BODY_ERRORS, BEARER_ERRORS, CHECK_ERRORS, { 409: ['ACCOUNT_EXISTS'], 429: ['LOGIN_RATE_LIMITED'] }, UNAVAILABLE, HASHING)
  verify(
    @Body() body: VerifyOtpDto,
    @OptionalCurrentUser() user: User | undefined,
    @ClientInfo() client: RequestMeta,
  ): Promise<TokenPair | Challenge> {
    return this.auth.verify(body, user, client);
  }

  @Post('otp/resend')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a fresh code for a started flow', description: 'Limits as for verifications.' })
  @ApiResponse({ status: 202, type: ResentChallengeResponse })
  @ApiErrors(BODY_ERRORS, { 404: ['VERIFICATION_NOT_FOUND'] }, SEND_LIMITS, FRAUD_REFUSALS, UNAVAILABLE)
  resend(@Body() body: ResendOtpDto, @ClientInfo() client: RequestMeta): Promise<ResentChallenge> {
    return this.auth.resend(body, client);
  }

  /** Public, and limited per client IP like the other challenge routes: ids are random, but nobody should get to poll them freely. */
  @Get('otp/:challengeId')
  @ApiOperation({
    summary: 'Read a pending challenge and whether its code was delivered',
    description:
      'Lets the sign-in screen say "not delivered, try another channel". `delivery` is shown for challenges of `register`, `login` ' +
      'and contact changes, never for `otp/start` ones. Unknown, completed, canceled, locked and expired challenges are 404.',
  })
  @ApiParam({
    name: 'challengeId',
    format: 'uuid',
    description: 'The `challengeId` a sign-up, login, `otp/start` or contact change returned.',
  })
  @ApiResponse({ status: 200, type: ChallengeStatusResponse })
  @ApiErrors({ 404: ['VERIFICATION_NOT_FOUND'], 429: ['RATE_LIMITED'] }, UNAVAILABLE)
  challengeStatus(@Param('challengeId', ParseVerificationIdPipe) challengeId: string): Promise<ChallengeStatus> {
    return this.auth.challengeStatus(challengeId);
  }

  @Post('token/refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Exchange a refresh token for a new pair',
    description:
      'Refresh tokens rotate. A rotated one presented again within 10 s (two tabs refreshing at once) gets a pair of the same session; ' +
      'later, its whole session is revoked (`TOKEN_REUSED`). A token of a session that was logged out or revoked: `TOKEN_REVOKED`. ' +
      'Unknown or expired tokens, and sessions older than `SESSION_MAX_DAYS`: `UNAUTHORIZED`.',
  })
  @ApiResponse({ status: 200, type: TokenPairResponse })
  @ApiErrors(BODY_ERRORS, { 401: ['UNAUTHORIZED', 'TOKEN_REUSED', 'TOKEN_REVOKED'], 429: ['RATE_LIMITED'] }, UNAVAILABLE)
  refresh(@Body() body: RefreshTokenDto, @ClientInfo() client: RequestMeta): Promise<TokenPair> {
    return this.auth.refresh(body.refreshToken, client);
  }

  @Post('logout')
  @HttpCode(204)
  @SkipThrottle()
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'Log out',
    description:
      "Ends the Bearer token's session: its access and refresh tokens stop working at once (`TOKEN_REVOKED`). " +
      "With `refreshToken`, that token's session (one of the same account) ends too.",
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiBody({ type: LogoutDto, required: false })
  @ApiNoContentResponse({ description: 'Logged out.' })
  @ApiErrors(BODY_ERRORS, BEARER_ERRORS)
  async logout(
    @CurrentUser() user: User,
    @CurrentSessionId() sessionId: string,
    @Body() body: LogoutDto,
    @ClientInfo() client: RequestMeta,
  ): Promise<void> {
    await this.auth.logout(user, sessionId, body.refreshToken, client);
  }

  @Get('me')
  @SkipThrottle()
  @UseGuards(JwtAuthGuard)
  @ApiOperation({ summary: 'The signed-in account' })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiResponse({ status: 200, type: UserResponse })
  @ApiErrors(BEARER_ERRORS)
  me(@CurrentUser() user: User): PublicUser {
    return toPublicUser(user);
  }

  /** Limited like the send routes: a new contact is sent a code. 200 with the account, or 202 with that code's challenge. */
  @Patch('me')
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'Change the preferred channel or a contact',
    description:
      '`otpChannel` applies at once (200 with the account). A new `email` or `phone` needs the current `password` ' +
      '(401 `INVALID_CREDENTIALS` without it or with a wrong one), is sent a code first (202 with its challenge), ' +
      'and replaces the old one when `POST /v1/auth/otp/verify` completes that challenge with this Bearer token; the old contact is told.',
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiResponse({ status: 200, type: UserResponse, description: 'Applied.' })
  @ApiResponse({ status: 202, type: ChallengeResponse, description: 'A code was sent to the new contact.' })
  @ApiErrors(
    BODY_ERRORS,
    BEARER_ERRORS,
    { 401: ['INVALID_CREDENTIALS'], 409: ['ACCOUNT_EXISTS'], 429: ['LOGIN_RATE_LIMITED'] },
    SEND_LIMITS,
    FRAUD_REFUSALS,
    UNAVAILABLE,
    HASHING,
  )
  async updateMe(
    @CurrentUser() user: User,
    @Body() body: UpdateMeDto,
    @ClientInfo() client: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PublicUser | Challenge> {
    const update = await this.auth.updateMe(user, body, client);
    if ('applied' in update) return update.applied;
    reply.status(202);
    return update.pending;
  }

  @Delete('me')
  @HttpCode(204)
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'Delete the account',
    description:
      'With the current `password`. The account is removed with its sessions (their access tokens are refused at once) and its ' +
      'authenticator app; signing in with its email address or phone number then fails as for an unknown account.',
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(BODY_ERRORS, BEARER_ERRORS, PASSWORD_CHECK, UNAVAILABLE, HASHING)
  async deleteMe(@CurrentUser() user: User, @Body() body: PasswordDto, @ClientInfo() client: RequestMeta): Promise<void> {
    await this.auth.deleteAccount(user, body.password, client);
  }

  @Get('sessions')
  @SkipThrottle()
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'The sessions of the account',
    description: 'Every session not ended, newest use first; `current` is the asking one.',
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiResponse({ status: 200, type: [SessionResponse] })
  @ApiErrors(BEARER_ERRORS)
  sessions(@CurrentUser() user: User, @CurrentSessionId() sessionId: string): Promise<Session[]> {
    return this.auth.listSessions(user, sessionId);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  @SkipThrottle()
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'End one session',
    description:
      'Its refresh and access tokens stop working at once (`TOKEN_REVOKED`). A session of another account is `SESSION_NOT_FOUND`.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'The `id` of a session as `GET /v1/auth/sessions` lists it.' })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiNoContentResponse({ description: 'Ended.' })
  @ApiErrors(BEARER_ERRORS, { 404: ['SESSION_NOT_FOUND'] })
  async endSession(@CurrentUser() user: User, @Param('id', SESSION_ID) id: string, @ClientInfo() client: RequestMeta): Promise<void> {
    await this.auth.endSession(user, id, client);
  }

  @Post('totp/enroll')
  @HttpCode(200)
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'Start using an authenticator app',
    description:
      'With the current `password`: a new secret, as text, as an `otpauth://` URI and as a QR code (SVG). Sign-in does not ask the ' +
      'app until `POST /v1/auth/totp/confirm` is given a code from it. `TOTP_ALREADY_ENABLED` while one is on.',
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiResponse({ status: 200, type: TotpEnrollmentResponse })
  @ApiErrors(BODY_ERRORS, BEARER_ERRORS, PASSWORD_CHECK, { 409: ['TOTP_ALREADY_ENABLED'] }, UNAVAILABLE, HASHING)
  enrollTotp(@CurrentUser() user: User, @Body() body: PasswordDto, @ClientInfo() client: RequestMeta): Promise<TotpEnrollment> {
    return this.auth.enrollTotp(user, body.password, client);
  }

  @Post('totp/confirm')
  @HttpCode(200)
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'Turn the authenticator app on with a code from it',
    description:
      'Returns 10 recovery codes, shown this once (only their digests are kept), each of which signs in once in place of the app. ' +
      'Wrong codes count toward `LOGIN_MAX_FAILURES` of the account.',
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiResponse({ status: 200, type: RecoveryCodesResponse })
  @ApiErrors(BODY_ERRORS, BEARER_ERRORS, { 409: ['TOTP_NOT_ENROLLED'], 422: ['OTP_INCORRECT'], 429: ['LOGIN_RATE_LIMITED'] }, UNAVAILABLE)
  confirmTotp(
    @CurrentUser() user: User,
    @Body() body: TotpCodeDto,
    @ClientInfo() client: RequestMeta,
  ): Promise<{ recoveryCodes: string[] }> {
    return this.auth.confirmTotp(user, body.code, client);
  }

  @Delete('totp')
  @HttpCode(204)
  @UseGuards(JwtAuthGuard)
  @ApiOperation({
    summary: 'Stop using the authenticator app',
    description: 'With the current `password`; its secret and recovery codes are forgotten and sign-in sends codes again.',
  })
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiNoContentResponse({ description: 'Off (also when it was not on).' })
  @ApiErrors(BODY_ERRORS, BEARER_ERRORS, PASSWORD_CHECK, UNAVAILABLE, HASHING)
  async disableTotp(@CurrentUser() user: User, @Body() body: PasswordDto, @ClientInfo() client: RequestMeta): Promise<void> {
    await this.auth.disableTotp(user, body.password, client);
  }
}
