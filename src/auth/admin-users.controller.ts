import { Controller, Delete, Get, HttpCode, Inject, Logger, Param, ParseUUIDPipe, Post, Query, UseGuards } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiErrors, UNAVAILABLE } from '../common/api-errors.js';
import { AdminApiKeyGuard } from '../common/api-key.guard.js';
import { API_KEY_SCHEME } from '../common/openapi.js';
import { ClientInfo, type RequestMeta } from '../common/request-meta.decorator.js';
import { EventPublisher } from '../events/event-publisher.port.js';
import { UserNotFoundError } from './auth.errors.js';
import { AdminUserResponse } from './dto/auth-responses.js';
import { FindUserQuery } from './dto/auth.dto.js';
import { TokensService } from './tokens/tokens.service.js';
import { toPublicUser } from './users/user.js';
import { UsersRepository } from './users/users.repository.js';

/** A user id in a path: a malformed one is answered like an unknown one. */
const USER_ID = new ParseUUIDPipe({ exceptionFactory: () => new UserNotFoundError() });

/** Support actions on accounts; only the keys of ADMIN_API_KEYS open them. */
@Controller('admin/users')
@UseGuards(AdminApiKeyGuard)
@ApiTags('admin')
@ApiSecurity(API_KEY_SCHEME)
export class AdminUsersController {
  private readonly audit = new Logger('Audit');

  constructor(
    private readonly users: UsersRepository,
    private readonly tokens: TokensService,
    @Inject(EventPublisher) private readonly events: EventPublisher,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Find a user',
    description: 'By email address, E.164 phone number (the account that signs in with it) or user id.',
  })
  @ApiResponse({ status: 200, type: AdminUserResponse })
  @ApiErrors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHORIZED'], 404: ['USER_NOT_FOUND'] }, UNAVAILABLE)
  async find(@Query() query: FindUserQuery): Promise<AdminUserResponse> {
    const identifier = query.identifier.trim();
    const user = (await this.users.findById(identifier)) ?? (await this.users.findByIdentifier(identifier));
    if (!user) throw new UserNotFoundError();
    const sessions = await this.tokens.listSessions(user.id, undefined);
    return { ...toPublicUser(user), totpEnabled: user.totpEnabledAt !== null, activeSessions: sessions.length };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a user',
    description: 'The account, its sessions (access tokens refused at once) and its authenticator app.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors({ 401: ['UNAUTHORIZED'], 404: ['USER_NOT_FOUND'] }, UNAVAILABLE)
  async delete(@Param('id', USER_ID) id: string, @ClientInfo() client: RequestMeta): Promise<void> {
    if (!(await this.users.delete(id))) throw new UserNotFoundError();
    this.audit.log({ event: 'admin.user_deleted', userId: id, ip: client.ip });
    await this.events.publish('user.deleted', { userId: id, by: 'admin' });
  }

  @Post(':id/sessions/revoke')
  @HttpCode(204)
  @ApiOperation({
    summary: 'End every session of a user',
    description: 'Their refresh and access tokens stop working at once (`TOKEN_REVOKED`).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Revoked (also when none was live).' })
  @ApiErrors({ 401: ['UNAUTHORIZED'], 404: ['USER_NOT_FOUND'] }, UNAVAILABLE)
  async revokeSessions(@Param('id', USER_ID) id: string, @ClientInfo() client: RequestMeta): Promise<void> {
    if (!(await this.users.findById(id))) throw new UserNotFoundError();
    const revoked = await this.tokens.revokeAllForUser(id);
    this.audit.log({ event: 'admin.sessions_revoked', userId: id, revoked, ip: client.ip });
    if (revoked > 0) await this.events.publish('session.revoked', { userId: id, reason: 'admin' });
  }
}
