import { afterEach, beforeEach, jest } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { coalesceStreamWrites } from './coalesced-writes.js';

/**
 * On a real loopback socket: what reaches the socket's own write (`_write` for one chunk, `_writev` for
 * several), which is where Node hands bytes to the system, and what the other end receives.
 */
let server: Server;
let received: Buffer[];
let socket: Socket;
let handovers: string[][];

beforeEach(async () => {
  received = [];
  server = createServer((peer) => peer.on('data', (chunk: Buffer) => received.push(chunk)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  handovers = [];
  const internals = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const { _write, _writev } = internals;
  jest.spyOn(internals, '_write').mockImplementation((...args: unknown[]) => {
    handovers.push([String(args[0])]);
    return _write.apply(socket, args);
  });
  jest.spyOn(internals, '_writev').mockImplementation((...args: unknown[]) => {
    handovers.push((args[0] as { chunk: Buffer | string }[]).map(({ chunk }) => chunk.toString()));
    return _writev.apply(socket, args);
  });
});

afterEach(async () => {
  socket.destroy();
  await new Promise((done) => server.close(done));
});

const nextTurn = () => new Promise((done) => setImmediate(done));
const allReceived = async (text: string) => {
  for (let i = 0; i < 100 && Buffer.concat(received).toString() !== text; i++) await nextTurn();
  return Buffer.concat(received).toString();
};

describe('coalesceStreamWrites', () => {
  it('hands the writes of one turn to the system at once, in order, strings and buffers alike', async () => {
    coalesceStreamWrites(socket);
    socket.write('a');
    socket.write(Buffer.from('b'));
    socket.write('c');
    expect(handovers).toEqual([]);
    await nextTurn();
    expect(handovers).toEqual([['a', 'b', 'c']]);
    expect(await allReceived('abc')).toBe('abc');
  });

  it('takes in what promise reactions of the same turn write, as a command sent on a reply would be', async () => {
    coalesceStreamWrites(socket);
    const replies = [Promise.resolve(), Promise.resolve()];
    socket.write('first');
    await Promise.all(replies.map(async (reply, i) => reply.then(() => socket.write(`then${i}`))));
    await nextTurn();
    expect(handovers).toEqual([['first', 'then0', 'then1']]);
  });

  it('takes in what every callback of the same phase writes, as the commands of requests read together would be', async () => {
    coalesceStreamWrites(socket);
    // Timers due together run in one timers phase, one callback after another, as the data events of
    // several connections do in one poll phase.
    await new Promise<void>((done) => {
      setTimeout(() => socket.write('first request'), 0);
      setTimeout(() => void Promise.resolve().then(() => socket.write('second request')), 0);
      setTimeout(done, 0);
    });
    await nextTurn();
    expect(handovers).toEqual([['first request', 'second request']]);
    expect(await allReceived('first requestsecond request')).toBe('first requestsecond request');
  });

  it('sends what is written from the check phase itself in the next pass, without waiting for other I/O', async () => {
    coalesceStreamWrites(socket);
    await new Promise<void>((done) => setImmediate(() => (socket.write('late'), done())));
    expect(handovers).toEqual([]);
    expect(await allReceived('late')).toBe('late');
    expect(handovers).toEqual([['late']]);
  });

  it('does not hold a write past its turn: each turn goes out by itself', async () => {
    coalesceStreamWrites(socket);
    socket.write('one');
    await nextTurn();
    socket.write('two');
    await nextTurn();
    expect(handovers).toEqual([['one'], ['two']]);
    expect(await allReceived('onetwo')).toBe('onetwo');
  });

  it('sends what a turn wrote before the socket ends in it', async () => {
    coalesceStreamWrites(socket);
    socket.write('last');
    socket.end();
    await once(socket, 'finish');
    expect(handovers).toEqual([['last']]);
    expect(await allReceived('last')).toBe('last');
  });

  it('wraps a socket once, however often it is asked', async () => {
    coalesceStreamWrites(socket);
    coalesceStreamWrites(socket);
    socket.write('x');
    socket.write('y');
    await nextTurn();
    expect(handovers).toEqual([['x', 'y']]);
    expect(socket.writableCorked).toBe(0);
  });

  it('leaves a socket it was not given alone: one hand-over per write', async () => {
    socket.write('a');
    socket.write('b');
    await nextTurn();
    expect(handovers.length).toBeGreaterThan(1);
    expect(handovers.flat()).toEqual(['a', 'b']);
  });
});
