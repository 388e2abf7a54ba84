import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';

/**
 * Nest's shutdown sequence starts with the adapter's `beforeClose`. Before that stops new requests,
 * readiness turns 503 and the server keeps serving for `drainMs`, so that Kubernetes takes the pod
 * out of its Service before connections are refused.
 */
export class DrainingFastifyAdapter extends FastifyAdapter {
  private onShutdownBegin: () => void = () => undefined;

  constructor(
    options: FastifyServerOptions<Server>,
    private readonly drainMs: number,
  ) {
    super(options);
  }

  whenShutdownBegins(listener: () => void): void {
    this.onShutdownBegin = listener;
  }

  override async beforeClose(): Promise<void> {
    this.onShutdownBegin();
    if (this.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, this.drainMs));
    super.beforeClose();
  }
}
