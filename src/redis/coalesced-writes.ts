import type { Writable } from 'node:stream';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-connection.js';

const COALESCING = Symbol('coalescing writes');

/**
 * Sends every command written to the connection in one pass of the event loop in one system call, in
 * the order they were written. ioredis writes each command to the socket at once, and on loopback a
 * write is the whole TCP path to the server and its wake-up: it was an eighth of the API's CPU at
 * saturation, where many requests write their next command as one batch of Redis replies comes in.
 * The socket is corked at the first write of a pass and uncorked in the pass's check phase
 * (`setImmediate`), after every I/O callback of its poll phase has run with its promise reactions. A
 * pass takes in the commands of every request it reads and every reply batch it receives, not only
 * those of one callback: flushing after each callback (`process.nextTick`) left about one write per
 * request for its first command alone, and a busy API made 2.2-2.4 system calls to write per request
 * where it now makes 1.3-1.5, one of them the HTTP response. A command waits for the rest of its pass at most,
 * and nothing else changes: ioredis still queues each command for its reply as it is sent, times it out
 * from then, and closing or ending the socket flushes or fails what is corked as it would a write in
 * flight. Unlike ioredis's auto-pipelining, no object is made per pass but the flush's immediate. Holding a
 * pass's commands to its end does not leave Redis waiting on the API: against no coalescing (`npm run
 * bench:compare`, two runs of 8 rounds), a send took 0.88 and 0.91 x the CPU and served 1.10 (95 % interval
 * 1.07-1.13) and 1.07 x the requests per second; a check took 0.90 and 0.93 x the CPU and served 1.04 and
 * 1.05 x the requests, within what those rounds can tell apart.
 *
 * Every connection, each time it (re)connects; on a cluster, each node's connection.
 */
export function coalesceWrites(client: RedisClient): void {
  if (client instanceof Cluster) {
    client.on('+node', (node: Redis) => coalesceWrites(node));
    return;
  }
  // ioredis makes a new socket for every connection attempt and announces each; the handshake's
  // commands (AUTH, SELECT, the ready check) go out before, uncoalesced.
  client.on('connect', () => coalesceStreamWrites(client.stream));
}

export function coalesceStreamWrites(stream: Writable): void {
  if (COALESCING in stream) return;
  const write = stream.write;
  let corked = false;
  const flush = () => {
    corked = false;
    stream.uncork();
  };
  Object.defineProperty(stream, COALESCING, { value: true });
  stream.write = function (this: Writable, ...args: Parameters<Writable['write']>) {
    if (!corked) {
      corked = true;
      stream.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  } as Writable['write'];
}
