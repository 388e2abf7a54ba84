import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One request exactly as the vendor received it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Form fields of a form-encoded body (Twilio, AWS Query); the last value wins. */
  form: Record<string, string>;
  /** A JSON body, parsed; undefined otherwise. */
  json: unknown;
  /** The status the fake answered with, once it has (never, for a request it hangs on). */
  answeredStatus?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}

/**
 * An error to answer with instead of the normal reply: `status` and the vendor's own `code`
 * (Twilio 21211, AWS `Throttling`, …), or `'hang'` to accept the request and never answer.
 */
export type Failure = { status: number; code?: string | number; message?: string; field?: string } | 'hang';

/**
 * A vendor API on a free loopback port that records every request and can be told to fail. Each
 * vendor's fake says how it routes (`handle`) and how it shapes an error (`errorReply`).
 */
export abstract class FakeVendorServer {
  readonly received: ReceivedRequest[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private planned: { failure: Failure; remaining: number }[] = [];
  private always: Failure | undefined;
  private some: { failure: Failure; fraction: number; applies: (request: ReceivedRequest) => boolean } | undefined;
  /** Requests answered with a failure (planned, always or some). */
  failuresServed = 0;

  get url(): string {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error(`${this.constructor.name} is not listening`);
    return `http://127.0.0.1:${address.port}`;
  }

  /** The next `times` requests fail this way; later calls queue after earlier ones. */
  failNext(failure: Failure, times = 1): this {
    this.planned.push({ failure, remaining: times });
    return this;
  }

  failAlways(failure: Failure): this {
    this.always = failure;
    return this;
  }

  /**
   * Each request that `applies` to fails this way with probability `fraction`, as a flaky vendor
   * does; planned failures come first.
   */
  failSome(failure: Failure, fraction: number, applies: (request: ReceivedRequest) => boolean = () => true): this {
    this.some = { failure, fraction, applies };
    return this;
  }

  /** Healthy again, with nothing recorded. */
  reset(): void {
    this.planned = [];
    this.always = undefined;
    this.some = undefined;
    this.failuresServed = 0;
    this.received.length = 0;
  }

  protected abstract handle(request: ReceivedRequest): Reply | Promise<Reply>;
  protected abstract errorReply(failure: Exclude<Failure, 'hang'>, request: ReceivedRequest): Reply;

  protected async listen(): Promise<this> {
    const server = createServer((request, response) => void this.serve(request, response));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const contentType = request.headers['content-type'] ?? '';
    const received: ReceivedRequest = {
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
      body,
      form: contentType.startsWith('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(body)) : {},
      json: contentType.startsWith('application/json') && body !== '' ? safeJson(body) : undefined,
    };
    this.received.push(received);

    const failure = this.takeFailure(received);
    if (failure) this.failuresServed += 1;
    if (failure === 'hang') return;
    let reply: Reply;
    try {
      reply = failure ? this.errorReply(failure, received) : await this.handle(received);
    } catch (error) {
      reply = { status: 500, body: { message: `fake vendor failed: ${(error as Error).message}` } };
    }
    const payload = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const headers = { ...(typeof reply.body === 'object' ? { 'content-type': 'application/json' } : {}), ...reply.headers };
    received.answeredStatus = reply.status;
    response.writeHead(reply.status, headers);
    response.end(payload);
  }

  private takeFailure(request: ReceivedRequest): Failure | undefined {
    const next = this.planned[0];
    if (next) {
      next.remaining -= 1;
      if (next.remaining <= 0) this.planned.shift();
      return next.failure;
    }
    if (this.some && this.some.applies(request) && Math.random() < this.some.fraction) return this.some.failure;
    return this.always;
  }
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** The access key id of an AWS Signature V4 `Authorization` header, if it is one. */
export function sigV4AccessKeyId(headers: IncomingHttpHeaders): string | undefined {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/[\w-]+\/[\w-]+\/aws4_request, SignedHeaders=[\w;-]+, Signature=[0-9a-f]{64}$/.exec(
      headers.authorization ?? '',
    );
  return match?.[1];
}

export const E164 = /^\+[1-9]\d{6,14}$/;
