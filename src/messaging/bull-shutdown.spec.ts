import { jest } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import type { RedisClient } from '../redis/redis-connection.js';
import { asActiveJob, boundQueueShutdown, closeQueue } from './bull-shutdown.js';

const WITHIN_MS = 40;

/** What the bounded close touches of a Bull queue: its name, its close and the hook @nestjs/bull sets on it. */
function fakeQueue(close: () => Promise<void>) {
  const queue = {
    name: 'otp-delivery',
    close: jest.fn(close),
    // As @nestjs/bull's buildQueue leaves it: Bull's close, unbounded.
    onApplicationShutdown(this: { close: () => Promise<void> }) {
      return this.close();
    },
  };
  return queue as typeof queue & Queue;
}

function fakeConnection(status = 'ready') {
  // As a Cluster client's connect fails with every node down.
  const connect = jest.fn(() => Promise.reject(new Error('None of startup nodes is available')));
  return { status, connect, disconnect: jest.fn() } as unknown as RedisClient & { disconnect: jest.Mock; connect: jest.Mock };
}

function fakeLogger() {
  return { warn: jest.fn() } as unknown as Logger & { warn: jest.Mock };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { promise, resolve };
}

const never = () => new Promise<void>(() => undefined);
const tick = () => new Promise((resolve) => setTimeout(resolve, WITHIN_MS * 3));

describe('boundQueueShutdown', () => {
  it("replaces @nestjs/bull's hook: every caller shares one close of Bull, and the connections are closed after it", async () => {
    const queue = fakeQueue(() => Promise.resolve());
    const connections = [fakeConnection(), fakeConnection()];
    const logger = fakeLogger();
    boundQueueShutdown(queue, connections, logger, WITHIN_MS);

    const hook = (queue as unknown as { onApplicationShutdown: () => Promise<void> }).onApplicationShutdown();
    const processor = closeQueue(queue);
    expect(processor).toBe(hook);
    await Promise.all([hook, processor, closeQueue(queue)]);

    expect(queue.close).toHaveBeenCalledTimes(1);
    for (const connection of connections) expect(connection.disconnect).toHaveBeenCalledWith(false);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('ends a close of Bull that never ends, with a warning naming the queue and its connections, and closes them', async () => {
    const queue = fakeQueue(never);
    const connections = [fakeConnection('ready'), fakeConnection('disconnecting')];
    const logger = fakeLogger();
    boundQueueShutdown(queue, connections, logger, WITHIN_MS);

    await closeQueue(queue);

    for (const connection of connections) expect(connection.disconnect).toHaveBeenCalledWith(false);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![0]).toBe(
      `queue otp-delivery: Bull's close was not over ${WITHIN_MS} ms after its last job settled; ` +
        'its 2 Redis connection(s) (ready, disconnecting) are closed',
    );
  });

  it('lets the active jobs finish before the bound starts, a job taken as the close began included', async () => {
    const queue = fakeQueue(never);
    const connections = [fakeConnection()];
    boundQueueShutdown(queue, connections, fakeLogger(), WITHIN_MS);
    const first = deferred();
    const second = deferred();
    void asActiveJob(queue, first.promise);

    let closed = false;
    const closing = closeQueue(queue).then(() => (closed = true));
    void asActiveJob(queue, second.promise);
    // Many times the bound, and the jobs are still running: nothing is cut.
    await tick();
    expect(closed).toBe(false);
    first.resolve();
    await tick();
    expect(closed).toBe(false);
    expect(connections[0]!.disconnect).not.toHaveBeenCalled();

    second.resolve();
    await closing;
    expect(connections[0]!.disconnect).toHaveBeenCalledWith(false);
  });

  it('counts a failed job as settled, and hands its failure back to Bull unchanged', async () => {
    const queue = fakeQueue(never);
    boundQueueShutdown(queue, [], fakeLogger(), WITHIN_MS);
    const failure = new Error('provider down');
    await expect(asActiveJob(queue, Promise.reject(failure))).rejects.toBe(failure);
    await closeQueue(queue);
  });

  it("lets nothing reconnect once the close has begun: the reconnect in Bull's close cannot fail unhandled", async () => {
    const connection = fakeConnection('reconnecting');
    const reconnects = connection.connect;
    const queue = fakeQueue(() => connection.connect());
    boundQueueShutdown(queue, [connection], fakeLogger(), WITHIN_MS);
    await closeQueue(queue);
    expect(reconnects).not.toHaveBeenCalled();
    expect(queue.close).toHaveBeenCalledTimes(1);
  });

  it('refuses to close a queue it was never given, rather than wait on Bull without a bound', () => {
    expect(() => closeQueue(fakeQueue(never))).toThrow('queue otp-delivery has no bounded close');
  });
});
