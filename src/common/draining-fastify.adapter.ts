import { Logger } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';
import { errorBody } from './error-body.js';

/** How soon a client refused during shutdown may try again (another replica will answer). */
const CLOSING_RETRY_AFTER_SECONDS = 5;

/**
 * Nest's shutdown sequence starts with the adapter's `beforeClose`. Before that stops new requests,
 * readiness turns 503 and the server keeps serving for `drainMs`, so that Kubernetes takes the pod
 * out of its Service before connections are refused.
 *
 * Once the drain is over, a request that still arrives (on a kept-alive connection, say) is refused
 * with the API's own 503 (`errorBody`, as the exception filter answers), a Retry-After header, the
 * request id and a log line, and `Connection: close`. Fastify's own refusal while it closes
 * (`return503OnClosing`) would answer a body without `code`, bypassing the hooks that add the rest.
 */
export class DrainingFastifyAdapter extends FastifyAdapter {
  private onShutdownBegin: () => void = () => undefined;
  private refusing = false;

  constructor(
    options: FastifyServerOptions<Server>,
    private readonly drainMs: number,
  ) {
    super({ ...options, return503OnClosing: false });
    this.getInstance().addHook('onRequest', (request, reply, done) => {
      if (!this.refusing) return done();
      if (request.raw.httpVersionMajor !== 2) reply.header('connection', 'close');
      const message = 'The service is shutting down. Try again shortly.';
      const body = errorBody(503, 'SERVICE_UNAVAILABLE', message, {}, CLOSING_RETRY_AFTER_SECONDS);
      void reply.code(503).header('retry-after', String(body.retryAfter)).send(body);
    });
  }

  whenShutdownBegins(listener: () => void): void {
    this.onShutdownBegin = listener;
  }

  // Nest awaits `beforeClose` (its HttpServer contract returns any); FastifyAdapter declares it void.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited by NestApplication.close()
  override async beforeClose(): Promise<void> {
    this.onShutdownBegin();
    if (this.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, this.drainMs));
    this.refusing = true;
    new Logger('Lifecycle').log(
      `drain over after ${this.drainMs} ms: new requests are refused; finishing in-flight requests and deliveries`,
    );
    super.beforeClose();
  }
}
