import type { Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import type { RedisClient } from '../redis/redis-connection.js';

/**
 * How long Bull's close may take once no job of this process is active any more. Its close has no
 * bound of its own: after the jobs, it reconnects the blocking connection and quits every connection,
 * waiting for each one's `end`. A Redis Cluster client that has lost every node (the cluster down,
 * or between a master's restart and the next slot refresh) never emits `end` again, and the process
 * then never exits: a rolling deploy waits out Kubernetes' grace period and kills it.
 */
export const QUEUE_CLOSE_WITHIN_MS = 3000;

/** What is not in Bull's types: the hook @nestjs/bull sets, and Bull's own timer stop. */
type BullInternals = Queue & { onApplicationShutdown?: () => Promise<void>; _clearTimers?: () => unknown };

const closers = new WeakMap<Queue, () => Promise<void>>();
const activeJobs = new WeakMap<Queue, Set<Promise<unknown>>>();

/**
 * A job's work, counted as active on `queue` until it settles: the close lets it finish, however long
 * the providers' own timeouts allow, before the bound on Bull's close starts.
 */
export function asActiveJob<T>(queue: Queue, work: Promise<T>): Promise<T> {
  let jobs = activeJobs.get(queue);
  if (!jobs) activeJobs.set(queue, (jobs = new Set()));
  const settled = work.then(
    () => undefined,
    () => undefined,
  );
  jobs.add(settled);
  void settled.then(() => jobs.delete(settled));
  return work;
}

/**
 * Makes every close of `queue` one bounded close: @nestjs/bull's own shutdown hook on the queue (an
 * unbounded `queue.close()`), the processor's and the adapter's (closeQueue). The jobs in flight
 * settle first; then Bull has `withinMs` to let go of Redis before the connections made for it are
 * cut. They are closed either way. Call it where the queue is injected, before any shutdown.
 */
export function boundQueueShutdown(queue: Queue, connections: RedisClient[], logger: Logger, withinMs = QUEUE_CLOSE_WITHIN_MS): void {
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeWithin(queue, connections, logger, withinMs));
  closers.set(queue, close);
  (queue as BullInternals).onApplicationShutdown = close;
}

/** The bounded close of a queue that boundQueueShutdown was given; the same promise for every caller. */
export function closeQueue(queue: Queue): Promise<void> {
  const close = closers.get(queue);
  if (!close) throw new Error(`queue ${queue.name} has no bounded close: pass it to boundQueueShutdown where it is injected`);
  return close();
}

/** Until none is active, a job taken just as the close began included. */
async function jobsSettled(queue: Queue): Promise<void> {
  const jobs = activeJobs.get(queue);
  while (jobs?.size) await Promise.all(jobs);
}

async function closeWithin(queue: Queue, connections: RedisClient[], logger: Logger, withinMs: number): Promise<void> {
  // Bull's close reconnects its blocking connection, for a resume that never comes. With Redis down
  // that connect fails, and Bull leaves the failure unhandled for a moment: by Node's default, the
  // process then ends with code 1 instead of 0. Nothing reconnects once the close has begun.
  for (const connection of connections) connection.connect = () => Promise.resolve();
  // Bull reports its own failures to close; what matters here is that it is over.
  const closed = queue.close().then(
    () => true,
    () => true,
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = jobsSettled(queue).then(() => new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), withinMs))));
  const inTime = await Promise.race([closed, deadline]);
  clearTimeout(timer);
  if (!inTime) {
    const states = connections.map((connection) => connection.status).join(', ');
    logger.warn(
      `queue ${queue.name}: Bull's close was not over ${withinMs} ms after its last job settled; ` +
        `its ${connections.length} Redis connection(s) (${states}) are closed`,
    );
    // Bull stops its timers (the stalled-job check, the delayed-job poll) only once its connections
    // have ended; left running, they would keep an embedding process alive.
    (queue as BullInternals)._clearTimers?.();
  }
  for (const connection of connections) connection.disconnect(false);
}
