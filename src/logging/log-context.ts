import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields every log line written inside a request or a delivery job carries. */
export interface LogContext {
  requestId?: string;
  verificationId?: string;
  /** The name of the API key a server-to-server request came with. */
  apiKeyName?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** The id of the HTTP request being handled, if any: a queued job carries it on to the worker. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** For what is learnt while a request is handled (which API key it came with): every later line of it carries it. */
export function addToLogContext(fields: Partial<LogContext>): void {
  const context = storage.getStore();
  if (context) Object.assign(context, fields);
}

export function runWithLogContext<T>(context: LogContext, run: () => T): T {
  return storage.run(context, run);
}
