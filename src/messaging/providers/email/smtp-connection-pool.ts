import type { Writable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { ECONNECTION, EENVELOPE, EMESSAGE, isTransientError } from 'nodemailer/lib/errors';

/** How the pool reaches the relay: nodemailer's connection options, the login, and the pool's bounds. */
export interface SmtpPoolOptions extends SMTPConnection.Options {
  /** Connections open at once; a send beyond them waits for one to come free. */
  maxConnections: number;
  /** Messages a connection carries before it is closed and a new one opened. */
  maxMessages: number;
  /** A connection left unused this long is closed (QUIT). */
  idleTimeout: number;
  auth?: { user: string; pass: string };
}

type SmtpEnvelope = SMTPConnection.Envelope;
type SmtpSentInfo = SMTPConnection.SentMessageInfo;

/**
 * Where a connection stands. The slot of a busy connection belongs to the send using it, which
 * gives it back; the slot of an idle or resetting one belongs to the pool.
 */
type State = 'busy' | 'idle' | 'resetting' | 'closed';

interface Pooled {
  readonly connection: SMTPConnection;
  state: State;
  messages: number;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  resolve(pooled: Pooled): void;
  reject(error: unknown): void;
}

type Attempt = { info: SmtpSentInfo } | { error: unknown } | { retry: true };

/**
 * A message handed to SMTPConnection#send, which pipes anything with a `pipe` method into its DATA
 * stream once the relay has accepted the envelope. It records whether that happened: until then not
 * a byte of the message has left, so it can be sent again over another connection without risk of
 * delivering it twice.
 */
class OneShotMessage {
  handedOver = false;

  constructor(
    private readonly raw: Buffer,
    private readonly socket: Writable | undefined,
  ) {}

  pipe(target: Writable): Writable {
    this.handedOver = true;
    // The DATA stream writes the message and then its closing dot; corked, they leave in one write
    // rather than two. On loopback and in the profile a socket write costs as much as composing the message.
    this.socket?.cork();
    target.end(this.raw);
    this.socket?.uncork();
    return target;
  }
}

/**
 * Finished messages sent over a few SMTPConnections kept open, the way nodemailer's pooled transport
 * keeps them, without its mailer and queue around each send: those re-parse the finished message and
 * stream it through several stages, over three times the CPU of the SMTP conversation itself.
 *
 * What the pooled transport does, this does too: at most `maxConnections` open, each reused for up to
 * `maxMessages` messages, then closed; connections the relay closed or that idled out are dropped; a
 * message that finds its reused connection closed before any of it was sent goes once more over a
 * fresh connection; a refused envelope or message is followed by RSET and the connection kept; TLS,
 * STARTTLS and login are nodemailer's own, from the same options. Closing fails the sends still
 * waiting for a connection and lets the ones in progress finish.
 */
export class SmtpConnectionPool {
  private readonly idle: Pooled[] = [];
  private readonly waiters: Waiter[] = [];
  /** Connections counted against maxConnections: connecting, busy, idle or resetting. */
  private open = 0;
  private closed = false;
  private readonly login: SMTPConnection.AuthenticationType | undefined;

  constructor(private readonly options: SmtpPoolOptions) {
    const { auth } = options;
    // As nodemailer's pool logs in: LOGIN-typed credentials, the method left for the relay to offer.
    this.login = auth ? { type: 'LOGIN', user: auth.user, credentials: { user: auth.user, pass: auth.pass }, method: false } : undefined;
  }

  /** Connections open right now (connecting, in use or idle). */
  get size(): number {
    return this.open;
  }

  async send(envelope: SmtpEnvelope, raw: Buffer): Promise<SmtpSentInfo> {
    let pooled = await this.acquire();
    let attempt = await this.attempt(pooled, envelope, raw, pooled.messages > 0);
    if ('retry' in attempt) {
      // The closed connection's slot is still this send's: the fresh connection takes it.
      try {
        pooled = await this.connect();
      } catch (error) {
        this.free();
        throw error;
      }
      attempt = await this.attempt(pooled, envelope, raw, false);
    }
    if ('error' in attempt) throw attempt.error;
    return (attempt as { info: SmtpSentInfo }).info;
  }

  /** Connects and logs in on a connection of its own, outside the pool, and says goodbye: nodemailer's verify(). */
  async verify(): Promise<void> {
    const pooled = await this.connect();
    pooled.state = 'closed';
    pooled.connection.quit();
  }

  /** Idle connections close now, busy ones once their message is through; waiting sends fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(poolClosed());
    for (const pooled of this.idle.splice(0)) {
      this.retire(pooled);
      this.open -= 1;
    }
  }

  private async acquire(): Promise<Pooled> {
    if (this.closed) throw poolClosed();
    const reused = this.idle.pop();
    if (reused) {
      reused.state = 'busy';
      return reused;
    }
    if (this.open >= this.options.maxConnections) {
      return new Promise<Pooled>((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    this.open += 1;
    try {
      return await this.connect();
    } catch (error) {
      this.free();
      throw error;
    }
  }

  /** One try on one connection; never rejects. The connection is released or dropped before it settles, or reset right after. */
  private attempt(pooled: Pooled, envelope: SmtpEnvelope, raw: Buffer, mayRetry: boolean): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      const message = new OneShotMessage(raw, pooled.connection._socket || undefined);
      // A copy: the connection keeps its transaction's state (the refusal of MAIL FROM, say) on the envelope it is given.
      pooled.connection.send({ ...envelope }, message as unknown as Buffer, (error, info) => {
        pooled.messages += 1;
        if (!error) {
          this.release(pooled);
          resolve({ info: info! });
          return;
        }
        if (mayRetry && !message.handedOver && isTransientError(error)) {
          // The relay had closed this connection while it sat idle; nothing of the message went out.
          this.retire(pooled);
          resolve({ retry: true });
          return;
        }
        if ((error.code === EENVELOPE || error.code === EMESSAGE) && error.responseCode !== 421 && pooled.state === 'busy') {
          // The relay refused this message, not the session: start a new transaction on the same connection.
          resolve({ error });
          pooled.state = 'resetting';
          pooled.connection.reset((resetError) => {
            if (pooled.state !== 'resetting') return;
            if (resetError) {
              this.retire(pooled);
              this.free();
              return;
            }
            pooled.state = 'busy';
            this.release(pooled);
          });
          return;
        }
        this.retire(pooled);
        this.free();
        resolve({ error });
      });
    });
  }

  /** Hands a busy connection's slot on: to the next waiting send, to the idle list, or back to the pool when the connection is done. */
  private release(pooled: Pooled): void {
    if (pooled.state === 'closed') return this.free();
    if (this.closed || pooled.messages >= this.options.maxMessages) {
      this.retire(pooled);
      return this.free();
    }
    const waiter = this.waiters.shift();
    if (waiter) return waiter.resolve(pooled);
    pooled.state = 'idle';
    this.idle.push(pooled);
    if (pooled.idleTimer) pooled.idleTimer.refresh();
    else pooled.idleTimer = setTimeout(() => this.idledOut(pooled), this.options.idleTimeout).unref();
  }

  /** A slot came free: a waiting send gets a new connection in it. */
  private free(): void {
    this.open -= 1;
    const waiter = this.closed ? undefined : this.waiters.shift();
    if (!waiter) return;
    this.open += 1;
    this.connect().then(waiter.resolve, (error: unknown) => {
      this.free();
      waiter.reject(error);
    });
  }

  private idledOut(pooled: Pooled): void {
    if (pooled.state !== 'idle') return;
    this.idle.splice(this.idle.indexOf(pooled), 1);
    pooled.state = 'closed';
    pooled.connection.quit();
    this.free();
  }

  /** Closes a connection whose slot its caller accounts for. */
  private retire(pooled: Pooled): void {
    if (pooled.state === 'closed') return;
    pooled.state = 'closed';
    clearTimeout(pooled.idleTimer);
    pooled.connection.close();
  }

  /** The connection ended on its own (the relay closed it, a socket error or timeout). */
  private ended(pooled: Pooled): void {
    const was = pooled.state;
    if (was === 'closed') return;
    pooled.state = 'closed';
    clearTimeout(pooled.idleTimer);
    // A busy connection's send learns of it from its callback and gives the slot back itself.
    if (was === 'busy') return;
    if (was === 'idle') this.idle.splice(this.idle.indexOf(pooled), 1);
    this.free();
  }

  /** A new connection, greeted, upgraded and logged in as configured; its slot is the caller's. */
  private connect(): Promise<Pooled> {
    return new Promise<Pooled>((resolve, reject) => {
      const connection = new SMTPConnection(this.options);
      const pooled: Pooled = { connection, state: 'busy', messages: 0 };
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        pooled.state = 'closed';
        connection.close();
        reject(error);
      };
      // Once connected, an error reaches the send in progress through its callback, or is followed by 'end'.
      connection.on('error', fail);
      connection.once('end', () => {
        if (settled) this.ended(pooled);
        else fail(Object.assign(new Error('Connection closed'), { code: ECONNECTION, command: 'CONN' }));
      });
      connection.connect((error) => {
        if (settled) return;
        if (error) return fail(error);
        if (!this.login || !connection.allowsAuth) {
          settled = true;
          return resolve(pooled);
        }
        connection.login(this.login, (loginError) => {
          if (settled) return;
          if (loginError) return fail(loginError);
          settled = true;
          resolve(pooled);
        });
      });
    });
  }
}

function poolClosed(): Error {
  return Object.assign(new Error('Connection pool was closed'), { code: ECONNECTION });
}
