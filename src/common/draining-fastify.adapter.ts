import { Logger } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';
import { errorBody } from './error-body.js';

/** How soon a client refused during shutdown may try again (another replica will answer). */
const CLOSING_RETRY_AFTER_SECONDS = 5;

/**
 * How long the connections still open when the drain ends may keep the server from closing. Every
 * answer is bounded well inside it (2 s), and the grace period allows the drain and 10 s more
 * (deploy/), so what is still open then is a client holding a request it never finishes, or a
 * connection nothing will end.
 */
export const CONNECTIONS_CLOSE_WITHIN_MS = 8000;

/** How often connections that finished their last request meanwhile are closed, while the server closes. */
const IDLE_SWEEP_MS = 200;

/**
 * Nest's shutdown sequence starts with the adapter's `beforeClose`. Before that stops new requests,
 * readiness turns 503 and the server keeps serving for `drainMs`, so that Kubernetes takes the pod
 * out of its Service before connections are refused.
 *
 * Once the drain is over, a request that still arrives (on a kept-alive connection, say) is refused
 * with the API's own 503 (`errorBody`, as the exception filter answers), a Retry-After header, the
 * request id and a log line, and `Connection: close`. Fastify's own refusal while it closes
 * (`return503OnClosing`) would answer a body without `code`, bypassing the hooks that add the rest.
 *
 * Closing the server waits for every connection to end, and Node only closes the ones idle at that
 * moment: one that answers its last request afterwards, or a client that sent half a request and
 * waits, would hold the whole shutdown (the delivery job, the queue, Redis) until the client gives up.
 * So connections that turn idle are closed as they do, and whatever is still open after
 * CONNECTIONS_CLOSE_WITHIN_MS is closed with a warning.
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

  override async close(): Promise<void> {
    const server = this.getInstance().server;
    const closing = super.close();
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    let deadline: NodeJS.Timeout | undefined;
    const overdue = new Promise<false>((resolve) => {
      deadline = setTimeout(() => resolve(false), CONNECTIONS_CLOSE_WITHIN_MS);
    });
    try {
      // Settled either way: a close that fails after the deadline is reported by the `await` below, not left unhandled.
      const settled = closing.then(
        () => true,
        () => true,
      );
      if (!(await Promise.race([settled, overdue]))) {
        const open = await new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
        new Logger('Lifecycle').warn(
          `${open} connection${open === 1 ? '' : 's'} still open ${CONNECTIONS_CLOSE_WITHIN_MS} ms after the drain ` +
            '(a request never finished, or a client that holds its connection): closed',
        );
        server.closeAllConnections();
      }
      await closing;
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
  }
}
