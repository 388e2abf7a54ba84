import mailparser from 'mailparser';
import smtp, { type SMTPServer } from 'smtp-server';
import { freePort } from './free-port.js';

/** One message as the SMTP server received it: the envelope and the parsed parts. */
export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  subject: string | undefined;
  text: string | undefined;
  html: string | undefined;
  /** The Message-ID header, angle brackets included. */
  messageId: string | undefined;
  /** The authenticated user, if the client logged in. */
  user: string | undefined;
}

/** Refuse a step of the conversation with this reply, e.g. `{ stage: 'rcpt', code: 550 }`. */
export interface SmtpFailure {
  stage: 'mail' | 'rcpt' | 'data';
  code: number;
  message?: string;
}

export interface SmtpTestServerOptions {
  /** Require these credentials; others get 535. Unset = no authentication needed (a relay). */
  auth?: { user: string; password: string };
  /** Close a connection that has been idle this long, with a 421, as relays do (smtp-server's default: 60 s). */
  idleTimeoutMs?: number;
}

/**
 * A real SMTP server (the `smtp-server` package) on a free loopback port, without STARTTLS so a
 * plain local connection works, recording every message and failing on request.
 */
export class SmtpTestServer {
  readonly received: ReceivedMail[] = [];
  private server: SMTPServer | undefined;
  private planned: SmtpFailure[] = [];
  private always: SmtpFailure | undefined;
  private some: { failure: SmtpFailure; fraction: number } | undefined;
  /** Steps refused so far (planned, always or some). */
  refusedCount = 0;
  private stalled = false;
  private dataDelayMs = 0;
  private greetingDelayMs = 0;
  /** Connections made and not yet greeted (see `slowGreeting`). */
  private greeting = 0;
  /** Messages whose content has arrived but whose final reply is still held back (see `slowData`). */
  private held = 0;
  /** Sessions whose client hung up before the final reply: their message was never accepted. */
  private readonly abandoned = new Set<string>();
  private readonly closedSessions = new Set<string>();
  /** Connections accepted since the start (or the last reset), and how many were open at once at most. */
  connectionCount = 0;
  peakConnections = 0;
  /** Connections open right now. */
  openConnections = 0;
  private dropMail = 0;

  private constructor(
    readonly port: number,
    private readonly options: SmtpTestServerOptions,
  ) {}

  static async start(options: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
    const server = new SmtpTestServer(await freePort(), options);
    await server.restart();
    return server;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** The next `times` messages are refused at `stage`. */
  failNext(failure: SmtpFailure, times = 1): this {
    for (let i = 0; i < times; i += 1) this.planned.push(failure);
    return this;
  }

  failAlways(failure: SmtpFailure): this {
    this.always = failure;
    return this;
  }

  /** Each message is refused at `failure.stage` with probability `fraction`, as a flaky relay does; planned failures come first. */
  failSome(failure: SmtpFailure, fraction: number): this {
    this.some = { failure, fraction };
    return this;
  }

  /**
   * The next `times` MAIL FROM commands on a connection that has carried a message already get no
   * answer: the connection is cut, as when a relay had dropped an idle session and the client
   * finds out only when it starts the next message.
   */
  dropNextMail(times = 1): this {
    this.dropMail += times;
    return this;
  }

  /** Accept connections and never say a word, like a relay that hangs. */
  stall(): this {
    this.stalled = true;
    return this;
  }

  /**
   * Holds the final reply to each message for `delayMs` after its content arrived, so a sender is
   * provably in the middle of a delivery for that long. A message counts as received only if the
   * client is still connected when the reply goes out: one that hung up abandoned its message.
   */
  slowData(delayMs: number): this {
    this.dataDelayMs = delayMs;
    return this;
  }

  /** Greets each new connection only after `delayMs`, so a sender is provably still connecting for that long. */
  slowGreeting(delayMs: number): this {
    this.greetingDelayMs = delayMs;
    return this;
  }

  /** How many connections are waiting for their greeting right now. */
  get connecting(): number {
    return this.greeting;
  }

  /** How many messages are being held right now, their content in but not yet accepted. */
  get inFlight(): number {
    return this.held;
  }

  /** Messages whose sender hung up while their reply was held. */
  get abandonedCount(): number {
    return this.abandoned.size;
  }

  reset(): void {
    this.planned = [];
    this.always = undefined;
    this.some = undefined;
    this.refusedCount = 0;
    this.stalled = false;
    this.dataDelayMs = 0;
    this.greetingDelayMs = 0;
    this.abandoned.clear();
    this.received.length = 0;
    this.connectionCount = 0;
    this.peakConnections = this.openConnections;
    this.dropMail = 0;
  }

  /** Starts it again on the same port after `stop()`. */
  async restart(): Promise<void> {
    if (this.server) return;
    const required = this.options.auth;
    const server = new smtp.SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: required === undefined,
      logger: false,
      // Stalled sessions are cut this soon when the server stops, instead of after 30 s.
      closeTimeout: 100,
      // The greeting otherwise waits for a reverse DNS lookup of 127.0.0.1, which can take up to 1.5 s on a machine
      // without a resolver: longer than a short idle timeout, so a client would read 421 instead of 220.
      disableReverseLookup: true,
      ...(this.options.idleTimeoutMs !== undefined ? { socketTimeout: this.options.idleTimeoutMs } : {}),
      onConnect: (_session, callback) => {
        this.connectionCount += 1;
        this.openConnections += 1;
        this.peakConnections = Math.max(this.peakConnections, this.openConnections);
        if (this.stalled) return;
        if (this.greetingDelayMs === 0) return callback();
        this.greeting += 1;
        setTimeout(() => {
          this.greeting -= 1;
          callback();
        }, this.greetingDelayMs);
      },
      onClose: (session) => {
        this.openConnections -= 1;
        this.closedSessions.add(session.id);
      },
      onAuth: (auth, _session, callback) => {
        if (required === undefined || (auth.username === required.user && auth.password === required.password)) {
          return callback(null, { user: auth.username });
        }
        callback(smtpError(535, 'Authentication credentials invalid'));
      },
      onMailFrom: (_address, session, callback) => {
        if (this.dropMail > 0 && session.transaction > 1) {
          this.dropMail -= 1;
          for (const connection of server.connections) if (connection.session.id === session.id) connection._socket.destroy();
          return;
        }
        callback(this.failureAt('mail'));
      },
      onRcptTo: (_address, _session, callback) => callback(this.failureAt('rcpt')),
      onData: (stream, session, callback) => {
        const failure = this.failureAt('data');
        if (failure) {
          stream.resume();
          stream.once('end', () => callback(failure));
          return;
        }
        mailparser
          .simpleParser(stream)
          .then(async (mail) => {
            if (this.dataDelayMs > 0) {
              this.held += 1;
              await new Promise((resolve) => setTimeout(resolve, this.dataDelayMs));
              this.held -= 1;
              if (this.closedSessions.has(session.id)) {
                this.abandoned.add(session.id);
                return;
              }
            }
            this.received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
              subject: mail.subject,
              text: mail.text,
              html: typeof mail.html === 'string' ? mail.html : undefined,
              messageId: mail.messageId,
              user: typeof session.user === 'string' ? session.user : undefined,
            });
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    server.on('error', () => undefined);
    this.server = server;
  }

  /** Closes the port: connections are refused until `restart()`. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private failureAt(stage: SmtpFailure['stage']): Error | null {
    const failure =
      this.planned[0]?.stage === stage
        ? this.planned.shift()
        : this.some?.failure.stage === stage && Math.random() < this.some.fraction
          ? this.some.failure
          : this.always?.stage === stage
            ? this.always
            : undefined;
    if (!failure) return null;
    this.refusedCount += 1;
    return smtpError(failure.code, failure.message ?? `Refused at ${stage} by the test`);
  }
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}
