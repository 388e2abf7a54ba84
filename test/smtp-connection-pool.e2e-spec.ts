import { SmtpConnectionPool, type SmtpPoolOptions } from '../src/messaging/providers/email/smtp-connection-pool.js';
import { classifySmtpError } from '../src/messaging/providers/email/smtp.provider.js';
import { eventually } from './support/eventually.js';
import { rejectionOf } from './support/messaging.js';
import { SmtpTestServer, type SmtpTestServerOptions } from './support/smtp-test-server.js';

const FROM = 'no-reply@example.com';

function message(to: string, subject = 'Your code'): Buffer {
  return Buffer.from(
    [
      `From: ${FROM}`,
      `To: ${to}`,
      `Subject: ${subject}`,
      'Message-ID: <m@example.com>',
      'Content-Type: text/plain',
      '',
      'Your code is 493027',
      '',
    ].join('\r\n'),
  );
}

const envelope = (to: string) => ({ from: FROM, to: [to] });

describe('SMTP connection pool', () => {
  const servers: SmtpTestServer[] = [];
  const pools: SmtpConnectionPool[] = [];

  async function serverWith(options: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
    const server = await SmtpTestServer.start(options);
    servers.push(server);
    return server;
  }

  function poolFor(server: SmtpTestServer, options: Partial<SmtpPoolOptions> = {}): SmtpConnectionPool {
    const pool = new SmtpConnectionPool({
      host: server.host,
      port: server.port,
      secure: false,
      ignoreTLS: false,
      requireTLS: false,
      maxConnections: 3,
      maxMessages: 1000,
      idleTimeout: 60_000,
      connectionTimeout: 2_000,
      greetingTimeout: 2_000,
      socketTimeout: 5_000,
      logger: false,
      ...options,
    });
    pools.push(pool);
    return pool;
  }

  afterEach(async () => {
    for (const pool of pools.splice(0)) pool.close();
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  it('carries one message after another over the same connection', async () => {
    const server = await serverWith();
    const pool = poolFor(server);

    for (let i = 0; i < 5; i += 1) await pool.send(envelope(`user${i}@example.com`), message(`user${i}@example.com`));

    expect(server.received.map((mail) => mail.to)).toEqual([0, 1, 2, 3, 4].map((i) => [`user${i}@example.com`]));
    expect(server.received[0]).toMatchObject({ from: FROM, subject: 'Your code', text: 'Your code is 493027\n' });
    expect(server.connectionCount).toBe(1);
  });

  it('opens no more than maxConnections however many messages wait, and sends them all', async () => {
    const server = (await serverWith()).slowData(50);
    const pool = poolFor(server, { maxConnections: 2 });

    const sends = Array.from({ length: 8 }, (_, i) => pool.send(envelope(`user${i}@example.com`), message(`user${i}@example.com`)));
    await Promise.all(sends);

    expect(server.received).toHaveLength(8);
    expect(server.peakConnections).toBe(2);
    expect(server.connectionCount).toBe(2);
  });

  it('closes a connection after maxMessages and goes on with a new one', async () => {
    const server = await serverWith();
    const pool = poolFor(server, { maxMessages: 2 });

    for (let i = 0; i < 5; i += 1) await pool.send(envelope('user@example.com'), message('user@example.com'));

    expect(server.received).toHaveLength(5);
    expect(server.connectionCount).toBe(3);
  });

  it('drops the connections a relay closed while they were idle and connects again', async () => {
    const server = await serverWith({ idleTimeoutMs: 500 });
    const pool = poolFor(server);

    await pool.send(envelope('user@example.com'), message('user@example.com'));
    await eventually(async () => {
      expect(server.openConnections).toBe(0);
      expect(pool.size).toBe(0);
    });
    await pool.send(envelope('user@example.com'), message('user@example.com'));

    expect(server.received).toHaveLength(2);
    expect(server.connectionCount).toBe(2);
  });

  it('closes a connection itself once it has been idle for idleTimeout', async () => {
    const server = await serverWith();
    const pool = poolFor(server, { idleTimeout: 100 });

    await pool.send(envelope('user@example.com'), message('user@example.com'));

    await eventually(async () => {
      expect(server.openConnections).toBe(0);
      expect(pool.size).toBe(0);
    });
  });

  it('sends a message once more, over a fresh connection, when its reused connection turns out closed', async () => {
    const server = await serverWith();
    const pool = poolFor(server);
    await pool.send(envelope('first@example.com'), message('first@example.com'));

    server.dropNextMail();
    await pool.send(envelope('second@example.com'), message('second@example.com'));

    expect(server.received.map((mail) => mail.to)).toEqual([['first@example.com'], ['second@example.com']]);
    expect(server.connectionCount).toBe(2);
  });

  it('sends a message once more, over a fresh connection, when the relay ends a reused session with 421', async () => {
    const server = await serverWith();
    const pool = poolFor(server);
    await pool.send(envelope('first@example.com'), message('first@example.com'));

    server.failNext({ stage: 'mail', code: 421, message: 'Closing idle session' });
    await pool.send(envelope('second@example.com'), message('second@example.com'));

    expect(server.received).toHaveLength(2);
    expect(server.connectionCount).toBe(2);
  });

  it('does not send again when a fresh connection fails, nor when the retry fails too', async () => {
    const server = await serverWith();
    const pool = poolFor(server);

    server.failNext({ stage: 'mail', code: 421 });
    expect(classifySmtpError(await rejectionOf(pool.send(envelope('a@example.com'), message('a@example.com'))))).toMatchObject({
      kind: 'outage',
      vendorCode: 421,
    });
    await pool.send(envelope('b@example.com'), message('b@example.com'));
    server.dropNextMail(1).failNext({ stage: 'mail', code: 421 });
    expect(await rejectionOf(pool.send(envelope('c@example.com'), message('c@example.com')))).toMatchObject({ responseCode: 421 });

    expect(server.received.map((mail) => mail.to)).toEqual([['b@example.com']]);
    expect(pool.size).toBe(0);
  });

  it('resets the session after a refused recipient and sends the next message on the same connection', async () => {
    const server = await serverWith();
    const pool = poolFor(server, { maxConnections: 1 });

    server.failNext({ stage: 'rcpt', code: 550, message: 'No such user here' });
    const refused = pool.send(envelope('nobody@example.com'), message('nobody@example.com'));
    const next = pool.send(envelope('user@example.com'), message('user@example.com'));

    expect(classifySmtpError(await rejectionOf(refused))).toMatchObject({ kind: 'permanent', vendorCode: 550 });
    await next;
    server.failNext({ stage: 'data', code: 554 });
    expect(classifySmtpError(await rejectionOf(pool.send(envelope('user@example.com'), message('user@example.com'))))).toMatchObject({
      kind: 'permanent',
      vendorCode: 554,
    });
    await pool.send(envelope('again@example.com'), message('again@example.com'));

    expect(server.received.map((mail) => mail.to)).toEqual([['user@example.com'], ['again@example.com']]);
    expect(server.connectionCount).toBe(1);
  });

  it('logs in once per connection with the configured credentials', async () => {
    const server = await serverWith({ auth: { user: 'mailer', password: 'right-password' } });
    const pool = poolFor(server, { auth: { user: 'mailer', pass: 'right-password' } });

    await pool.send(envelope('a@example.com'), message('a@example.com'));
    await pool.send(envelope('b@example.com'), message('b@example.com'));
    await pool.verify();

    expect(server.received.map((mail) => mail.user)).toEqual(['mailer', 'mailer']);
    expect(server.connectionCount).toBe(2);
  });

  it('fails a login with a wrong password as an authentication error, and holds no connection afterwards', async () => {
    const server = await serverWith({ auth: { user: 'mailer', password: 'right-password' } });
    const pool = poolFor(server, { auth: { user: 'mailer', pass: 'wrong-password' }, maxConnections: 1 });

    for (let i = 0; i < 2; i += 1) {
      const error = await rejectionOf(pool.send(envelope('a@example.com'), message('a@example.com')));
      expect(classifySmtpError(error)).toMatchObject({ kind: 'auth', vendorCode: 535 });
    }
    expect(classifySmtpError(await rejectionOf(pool.verify()))).toMatchObject({ kind: 'auth' });

    expect(server.received).toHaveLength(0);
    expect(pool.size).toBe(0);
  });

  it('reports a relay that is down as an outage to every waiting send, and delivers once it is back', async () => {
    const server = await serverWith();
    const pool = poolFor(server, { maxConnections: 1 });
    await server.stop();

    const errors = await Promise.all([1, 2, 3].map(() => rejectionOf(pool.send(envelope('a@example.com'), message('a@example.com')))));
    expect(errors.map((error) => classifySmtpError(error).kind)).toEqual(['outage', 'outage', 'outage']);
    expect(classifySmtpError(await rejectionOf(pool.verify())).kind).toBe('outage');
    expect(pool.size).toBe(0);

    await server.restart();
    await pool.send(envelope('a@example.com'), message('a@example.com'));
    expect(server.received).toHaveLength(1);
  });

  it('on close, lets the message in progress finish, fails the waiting ones and every later one, and closes its connections', async () => {
    const server = (await serverWith()).slowData(300);
    const pool = poolFor(server, { maxConnections: 1 });
    await pool.send(envelope('first@example.com'), message('first@example.com'));

    const inProgress = pool.send(envelope('second@example.com'), message('second@example.com'));
    const waiting = pool.send(envelope('third@example.com'), message('third@example.com'));
    await eventually(async () => expect(server.inFlight).toBe(1));
    pool.close();

    expect(await rejectionOf(waiting)).toMatchObject({ message: 'Connection pool was closed' });
    await inProgress;
    expect(classifySmtpError(await rejectionOf(pool.send(envelope('a@example.com'), message('a@example.com')))).kind).toBe('outage');
    expect(server.received.map((mail) => mail.to)).toEqual([['first@example.com'], ['second@example.com']]);
    await eventually(async () => expect(server.openConnections).toBe(0));
    expect(pool.size).toBe(0);
  });

  it('closes its idle connections on close', async () => {
    const server = await serverWith();
    const pool = poolFor(server);
    await Promise.all([1, 2, 3].map((i) => pool.send(envelope(`u${i}@example.com`), message(`u${i}@example.com`))));
    expect(server.openConnections).toBeGreaterThan(0);

    pool.close();

    await eventually(async () => expect(server.openConnections).toBe(0));
    expect(pool.size).toBe(0);
  });
});
