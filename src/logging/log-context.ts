import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields every log line written inside a request or a delivery job carries. */
export interface LogContext {
  requestId?: string;
  verificationId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** The id of the HTTP request being handled, if any: a queued job carries it on to the worker. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

export function runWithLogContext<T>(context: LogContext, run: () => T): T {
  return storage.run(context, run);
}
