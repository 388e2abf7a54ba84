import type { INestApplication } from '@nestjs/common';
import type { AppConfig } from '../config/configuration.types.js';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ErrorResponse } from './api-errors.js';

/** The UI; @nestjs/swagger serves the raw document beside it, as `/docs-json`. */
const DOCS_PATH = 'docs';
export const API_KEY_SCHEME = 'apiKey';
export const BEARER_SCHEME = 'bearer';

/**
 * `GET /docs` (Swagger UI) and `GET /docs-json` (the OpenAPI document), read from the controllers and
 * DTOs. Call after versioning is enabled, so paths read `/v1/...` as served. The document is built on
 * its first request rather than at start-up: most processes are never asked for it.
 */
export function setUpOpenApi(app: INestApplication, { name, version }: Pick<AppConfig, 'name' | 'version'>): void {
  const config = new DocumentBuilder()
    .setTitle(name)
    .setDescription(
      'One-time passcodes over email, SMS and WhatsApp, and the sign-up, login, passwordless and password-reset flows built on them. ' +
        'Every error has the `ErrorResponse` shape; every 429 carries a `Retry-After` header.',
    )
    .setVersion(version)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'One of the keys in `API_KEYS` for `/v1/verifications`, of `ADMIN_API_KEYS` for `/v1/admin`.' }, API_KEY_SCHEME)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An `accessToken` from `POST /v1/auth/otp/verify` or `/v1/auth/token/refresh`.' }, BEARER_SCHEME)
    .addTag('verifications', 'Server to server: issue, check, read and cancel one-time passcodes (`X-Api-Key`).')
    .addTag('admin', 'Support actions (`X-Api-Key` with one of `ADMIN_API_KEYS`; application keys are refused).')
    .addTag('auth', 'End users: sign-up, login, passwordless login, password reset and the signed-in account.')
    .addTag('health', 'Liveness, readiness, provider health and build information.')
    .addTag('metrics', 'Prometheus scrape endpoint.')
    .build();
  SwaggerModule.setup(DOCS_PATH, app, () => SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponse] }), {
    customSiteTitle: `${name} API`,
    raw: ['json'],
  });
}
