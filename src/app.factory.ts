import { type DynamicModule, type Type, VersioningType } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { AppModule } from './app.module.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { DrainingFastifyAdapter } from './common/draining-fastify.adapter.js';
import { ShutdownState } from './common/shutdown-state.js';
import { ValidationFailedError } from './common/errors.js';
import { warnOnUntrustedForwardedFor } from './common/untrusted-forwarded-for.js';
import { createValidationPipe, findHostileJson } from './common/validation.js';
import type { PinoNestLogger } from './logging/logger.js';
import { installRequestLogging } from './logging/request-logging.js';
import { setUpOpenApi } from './common/openapi.js';
import { MetricsService } from './metrics/metrics.service.js';
import { RECEIPT_ROUTES_PREFIX } from './messaging/receipts/receipt-vendors.js';
import type { AppConfiguration, TrustProxy } from './config/configuration.types.js';

export interface CreateAppOptions {
  /** The process's logger (`createLogger`): Nest's lines, request lines and every `new Logger(context)` go to it. */
  logger: PinoNestLogger;
}

/** The whole HTTP application, as production runs it; tests build theirs with this too. */
export async function createApp(configuration: AppConfiguration, options: CreateAppOptions): Promise<NestFastifyApplication> {
  const app = await createHttpApp(AppModule.forRoot(configuration), configuration.app, options);
  (app.getHttpAdapter() as DrainingFastifyAdapter).whenShutdownBegins(() => app.get(ShutdownState).begin());
  setUpOpenApi(app, configuration.app);
  return app;
}

/**
 * The HTTP pipeline every route of the service runs in: Fastify with request ids, the request
 * context and summary line, the latency histogram, URI versions, the validation pipe and the error
 * filter, around the given module's routes. `npm run bench` also runs it around routes that do no
 * work, to show what the pipeline alone costs per request.
 */
export async function createHttpApp(
  module: Type | DynamicModule,
  settings: AppConfiguration['app'],
  options: CreateAppOptions,
): Promise<NestFastifyApplication> {
  const adapter = new DrainingFastifyAdapter(
    {
      bodyLimit: settings.bodyLimitBytes,
      trustProxy: toFastifyTrustProxy(settings.trustProxy),
      genReqId: (request) => {
        const given = request.headers['x-request-id'];
        return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
      },
      return503OnClosing: true,
    },
    settings.shutdownDrainMs,
  );
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    logger: options.logger,
    abortOnError: false,
    // Nest would add a form (urlencoded) parser; the body parser is installed below instead.
    bodyParser: false,
  });
  acceptJsonBodiesOnly(adapter.getInstance());
  installRequestLogging(adapter.getInstance(), options.logger.pino);
  warnOnUntrustedForwardedFor(adapter.getInstance(), settings.trustProxy);
  const metrics = app.get(MetricsService);
  // The route pattern (`/v1/verifications/:id`), never the raw URL: ids must not become label values.
  adapter.getInstance().addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpLatency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
  app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(app.get(HttpAdapterHost)));
  return app;
}

/**
 * Request bodies are JSON or nothing: any other media type (a form post or a `text/plain` fetch
 * from a hostile page, which browsers send cross-site without a preflight) gets 415 before a route
 * runs. A body that parses but holds what no field may (deep nesting, NUL characters, unpaired
 * surrogates) is a 400 naming the field, before validation or any store sees it.
 */
function acceptJsonBodiesOnly(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  // Vendors' delivery receipts are signed over the body as sent, in the vendor's own media type
  // (Twilio: a form, SNS: text/plain): those routes get it as a string and verify it before reading it.
  fastify.addContentTypeParser(['application/x-www-form-urlencoded', 'text/plain'], { parseAs: 'string' }, (request, raw, done) => {
    if (isReceiptRoute(request.url)) return done(null, raw);
    return done(Object.assign(new Error('Unsupported Media Type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }), undefined);
  });
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    if (isReceiptRoute(request.url)) return done(null, raw);
    // The callback form: Fastify's default parser returns nothing here and reports through the callback,
    // though its type also allows the promise-returning form.
    void parseJson(request, raw as string, (error: Error | null, body?: unknown) => {
      if (error) return done(error, undefined);
      const problems = findHostileJson(body);
      return problems ? done(new ValidationFailedError(problems), undefined) : done(null, body);
    });
  });
}

function isReceiptRoute(url: string): boolean {
  return url.startsWith(`${RECEIPT_ROUTES_PREFIX}/`);
}

/**
 * Fastify treats a bare number as "trust nothing" (a hop count alone cannot tell a proxy from a
 * client); the SPEC's hop count means "the nearest N hops are our proxies", as Express defines it.
 */
function toFastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return trust;
}
