import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { lateAnswers, run } from '../bench/load-client.js';

/**
 * The benchmark's load client against a real HTTP server on loopback. Paced (`npm run bench`'s half-load
 * phases): every request it was asked for goes out, on the keep-alive connections it may open, with its body
 * and headers; every answer is read, however the server's writes split it; and a connection that fails or an
 * answer it cannot read is counted, not waited for. At saturation: a run of a fixed number of requests is
 * timed to its last answer.
 */

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: Socket;
}

let server: Server;
let url: string;
let received: Received[];
/** How the server answers a request; the default is a 201 with an id that is not ASCII. */
let answer: (request: Received, reply: (status: number, body: string) => void, socket: Socket) => void;

const defaultAnswer: typeof answer = (_request, reply) => reply(201, JSON.stringify({ id: `vérification-${received.length}` }));

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        method: request.method!,
        url: request.url!,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: request.socket,
      };
      received.push(entry);
      answer(
        entry,
        (status, body) => {
          response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          response.end(body);
        },
        request.socket,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  answer = defaultAnswer;
});

const sends = (rate: number, durationSeconds: number) =>
  run({ kind: 'send', url, connections: 4, rate, durationSeconds, apiKey: 'key-1234567890', prefix: 'paced' });

it('sends each request with its body and headers, at most `connections` at a time, and reads each answer', async () => {
  const result = await sends(400, 0.5);

  expect(result).toMatchObject({ requests: 200, statuses: { 201: 200 }, unexpected: 0, errors: 0, timeouts: 0 });
  expect(received).toHaveLength(200);
  // Several connections: the server may take them in another order than they were sent.
  const destinations = Array.from({ length: 200 }, (_, n) => `paced-${n}@bench.example.com`);
  expect(received.map(({ body }) => JSON.parse(body) as { channel: string; to: string }).sort((a, b) => a.to.localeCompare(b.to))).toEqual(
    destinations.map((to) => ({ channel: 'email', to })).sort((a, b) => a.to.localeCompare(b.to)),
  );
  for (const request of received) {
    expect(request).toMatchObject({ method: 'POST', url: '/v1/verifications' });
    expect(request.headers).toMatchObject({ 'x-api-key': 'key-1234567890', 'content-type': 'application/json' });
    expect(Number(request.headers['content-length'])).toBe(Buffer.byteLength(request.body));
  }
  expect(new Set(received.map(({ socket }) => socket)).size).toBeLessThanOrEqual(4);
  // The id of each 201, decoded as UTF-8 and kept with the destination it was sent for.
  const sentTo = new Map(received.map(({ body }, n) => [`vérification-${n + 1}`, (JSON.parse(body) as { to: string }).to]));
  expect(result.created).toHaveLength(200);
  for (const [to, id] of result.created!) expect(sentTo.get(id)).toBe(to);
  expect(result.p99).toBeGreaterThan(0);
  expect(result.p50).toBeLessThanOrEqual(result.p99);
});

it('reads an answer that arrives a few bytes at a time, and the next one behind it', async () => {
  answer = (_request, _reply, socket) => {
    const body = JSON.stringify({ id: `trickled-${received.length}` });
    const bytes = Buffer.from(
      `HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Split inside the status line, the headers, their end and the body; each piece after the one before (timers of
    // different delays can fire out of order on a busy machine).
    const trickle = (at: number) => {
      if (at >= bytes.length) return;
      socket.write(bytes.subarray(at, at + 7));
      setTimeout(() => trickle(at + 7), 1);
    };
    trickle(0);
  };

  const result = await sends(100, 0.3);

  expect(result).toMatchObject({ requests: 30, statuses: { 201: 30 }, errors: 0, timeouts: 0 });
  expect(result.created!.map(([, id]) => id).sort()).toEqual(Array.from({ length: 30 }, (_, n) => `trickled-${n + 1}`).sort());
});

it('counts a dropped connection and an answer it cannot read as errors, and goes on with the rest', async () => {
  answer = (request, reply, socket) => {
    const n = received.indexOf(request);
    if (n === 3) socket.destroy();
    else if (n === 7) socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n');
    else defaultAnswer(request, reply, socket);
  };

  const result = await sends(200, 0.1);

  expect(result).toMatchObject({ requests: 18, statuses: { 201: 18 }, errors: 2, timeouts: 0 });
  expect(received).toHaveLength(20);
});

it('charges a stall to every request due behind it, from when each was due', async () => {
  let stalled = false;
  answer = (request, reply, socket) => {
    if (stalled) return defaultAnswer(request, reply, socket);
    stalled = true;
    setTimeout(() => defaultAnswer(request, reply, socket), 300);
  };

  // One connection: the 29 requests due during the first one's 300 ms wait behind it.
  const result = await run({
    kind: 'send',
    url,
    connections: 1,
    rate: 100,
    durationSeconds: 0.3,
    apiKey: 'k',
    prefix: 'stall',
    lateMs: 100,
  });

  expect(result).toMatchObject({ requests: 30, statuses: { 201: 30 } });
  expect(result.p50).toBeGreaterThan(100);
  expect(result.p99).toBeGreaterThanOrEqual(290);
  // Those due in the first 200 ms waited over 100 ms, one after another: one late run, from the first due to the last answered.
  expect(result.late).toMatchObject({ thresholdMs: 100, runs: 1 });
  expect(result.late!.count).toBeGreaterThanOrEqual(19);
  expect(result.late!.longestRunMs).toBeGreaterThanOrEqual(290);
});

it('counts late answers in the order their requests were due, each unbroken series of them one run', () => {
  // Given in the order answered: due at 40 (12 ms), 0 (1), 20 (30), 10 (15), 50 (1), 30 (2).
  const late = lateAnswers([40, 0, 20, 10, 50, 30], [12, 1, 30, 15, 1, 2], 10);

  // 10 and 20 are one run, answered by 50 at the latest (40 ms); 30 is on time; 40 is a run of its own (12 ms).
  expect(late).toEqual({ thresholdMs: 10, count: 3, runs: 2, longestRunMs: 40 });
  expect(lateAnswers([0, 10], [10, 3], 10)).toEqual({ thresholdMs: 10, count: 0, runs: 0, longestRunMs: 0 });
});

it('times a run of a fixed number of requests at saturation to its last answer, not to the next whole second', async () => {
  const targets = Array.from({ length: 20 }, (_, n) => ({ id: `verification-${n}`, code: '000000', right: false }));
  let firstAt = 0;
  let lastAt = 0;
  answer = (request, reply) => {
    if (received.length === 1) firstAt = performance.now();
    const last = received.length === targets.length;
    const answered = () => {
      lastAt = performance.now();
      reply(422, '{"code":"OTP_INCORRECT"}');
    };
    // The last answer 300 ms late: the run lasts that long, and well short of a second.
    if (last) setTimeout(answered, 300);
    else answered();
  };

  const result = await run({ kind: 'check', url, connections: 4, apiKey: 'key-1234567890', targets });

  expect(result).toMatchObject({ requests: 20, statuses: { 422: 20 }, unexpected: 0, errors: 0 });
  const span = (lastAt - firstAt) / 1000;
  expect(span).toBeGreaterThanOrEqual(0.29);
  expect(result.durationSeconds).toBeGreaterThanOrEqual(span);
  // autocannon's own figure is its next tick after the last answer: a whole second here.
  expect(result.durationSeconds).toBeLessThan(span + 0.45);
  expect(result.requestsPerSecond).toBeCloseTo(20 / result.durationSeconds);
});
