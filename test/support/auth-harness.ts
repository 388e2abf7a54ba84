import { Controller, Get, UseGuards } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AccountsModule } from '../../src/auth/accounts.module.js';
import { CurrentUser } from '../../src/auth/tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../../src/auth/tokens/jwt-auth.guard.js';
import { TokensService } from '../../src/auth/tokens/tokens.service.js';
import type { User } from '../../src/auth/users/user.js';
import { UsersRepository } from '../../src/auth/users/users.repository.js';
import { AllExceptionsFilter } from '../../src/common/all-exceptions.filter.js';
import { configModuleFor } from '../../src/config/config.namespaces.js';
import { loadConfiguration } from '../../src/config/load-configuration.js';
import { Database } from '../../src/database/database.constants.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import type { TestDatabase } from './databases.js';

/** A route behind the guard, as the auth controller's `GET /v1/auth/me` will be. */
@Controller('probe')
class ProbeController {
  @Get('me')
  @UseGuards(JwtAuthGuard)
  me(@CurrentUser() user: User): { id: string } {
    return { id: user.id };
  }
}

export interface AuthHarness {
  app: NestFastifyApplication;
  /** Base URL on loopback (Fastify's injector pulls in an ESM-only dependency that jest cannot require). */
  url: string;
  users: UsersRepository;
  tokens: TokensService;
  jwt: JwtService;
  db: Database;
  close(): Promise<void>;
}

/** The accounts module on a real database, with the app's exception filter, over HTTP on loopback. */
export async function startAuthHarness(database: TestDatabase): Promise<AuthHarness> {
  const { configuration } = loadConfiguration({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    JWT_SECRET: 'e2e-jwt-secret-0123456789abcdefghijkl',
  });
  const moduleRef = await Test.createTestingModule({
    imports: [configModuleFor(configuration), DatabaseModule, AccountsModule],
    controllers: [ProbeController],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: ['error'] });
  app.useGlobalFilters(new AllExceptionsFilter(app.get(HttpAdapterHost)));
  await app.listen(0, '127.0.0.1');
  return {
    app,
    url: await app.getUrl(),
    users: app.get(UsersRepository),
    tokens: app.get(TokensService),
    jwt: app.get(JwtService),
    db: app.get(Database),
    close: () => app.close(),
  };
}
