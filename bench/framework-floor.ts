import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, UseGuards, VERSION_NEUTRAL } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createHttpApp } from '../src/app.factory.js';
import { ApiKeyGuard } from '../src/common/api-key.guard.js';
import { configModuleFor } from '../src/config/config.namespaces.js';
import { loadConfiguration } from '../src/config/load-configuration.js';
import { createLogger, PinoNestLogger } from '../src/logging/logger.js';
import { secretValues } from '../src/logging/redaction.js';
import { MetricsModule } from '../src/metrics/metrics.module.js';
import { CheckVerificationDto, CreateVerificationDto } from '../src/otp/dto/verification.dto.js';

/**
 * The floor under the service's numbers in `npm run bench`: the service's own HTTP pipeline
 * (`createHttpApp`: request ids, request context and log line, latency histogram, validation pipe,
 * error filter) and its API-key guard, with the two benchmarked POST routes validating the same
 * bodies and doing nothing else: no Redis, no rate limit, no code, no audit line, no delivery. A send
 * or a check of the service cannot be faster than this; the baseline shows what the same machine does
 * without a framework. (GET /health/live is here only so the benchmark can warm the process up.)
 */

@Controller('verifications')
@UseGuards(ApiKeyGuard)
class FloorVerificationsController {
  @Post()
  @HttpCode(201)
  create(@Body() body: CreateVerificationDto): { id: string; status: string; channel: string } {
    return { id: randomUUID(), status: 'pending', channel: body.channel };
  }

  @Post('check')
  @HttpCode(200)
  check(@Body() body: CheckVerificationDto): { id: string | undefined; status: string } {
    return { id: body.id, status: 'approved' };
  }
}

@Controller({ path: 'health', version: VERSION_NEUTRAL })
class FloorHealthController {
  @Get('live')
  live(): { status: string } {
    return { status: 'ok' };
  }
}

async function main(): Promise<void> {
  // The service's own configuration from the same environment: the same log level, format and secrets to scrub.
  // bench/.build/bench/ → the repository's config/.
  const loaded = loadConfiguration(process.env, { configDir: fileURLToPath(new URL('../../../config/', import.meta.url)) });
  const logger = new PinoNestLogger(createLogger({ format: 'json', secrets: secretValues(loaded) }));
  @Module({
    imports: [await configModuleFor(loaded.configuration), MetricsModule],
    controllers: [FloorVerificationsController, FloorHealthController],
  })
  class FloorModule {}
  const app = await createHttpApp(FloorModule, loaded.configuration.app, { logger });
  await app.listen(loaded.configuration.app.port, loaded.configuration.app.host);
  console.log(`Listening on ${await app.getUrl()}`);
  const stop = () => void app.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
