import { performance } from 'node:perf_hooks';
import smtp, { type SMTPServer } from 'smtp-server';
import { freePort } from '../test/support/free-port.js';

/** One message: when its last byte arrived (performance.now() of this process) and the code it carried. */
export interface Arrival {
  at: number;
  code: string | undefined;
}

const CODE = /code is (\d{4,10})/;

/** The code in the text, whichever way the body was encoded (quoted-printable keeps digits as they are; base64 parts are decoded). */
function codeIn(raw: string): string | undefined {
  const plain = CODE.exec(raw)?.[1];
  if (plain) return plain;
  for (const part of raw.split(/\r\n--/)) {
    const [head, body] = part.split('\r\n\r\n', 2);
    if (body === undefined || !/content-transfer-encoding:\s*base64/i.test(head!)) continue;
    const found = CODE.exec(Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8'))?.[1];
    if (found) return found;
  }
  return undefined;
}

/**
 * A real SMTP server (the `smtp-server` package, as the tests use) that only notes when each
 * recipient's message finished arriving and the code in it. It does not parse MIME (the benchmark's
 * own process must stay light): it finds "... code is 123456" in the raw text or in a base64 part.
 */
export class SmtpSink {
  readonly arrivals = new Map<string, Arrival>();

  private readonly server: SMTPServer;

  private constructor(readonly port: number) {
    this.server = new smtp.SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      logger: false,
      closeTimeout: 100,
      // A reverse DNS lookup of 127.0.0.1 before each greeting (up to 1.5 s without a resolver) is no cost of the service's.
      disableReverseLookup: true,
      // Many sends queue at once; the default cap of 100 clients would only reject the pool's reconnects.
      maxClients: 1000,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const at = performance.now();
          const code = codeIn(Buffer.concat(chunks).toString('latin1'));
          for (const rcpt of session.envelope.rcptTo) this.arrivals.set(rcpt.address.toLowerCase(), { at, code });
          callback();
        });
      },
    });
  }

  static async start(): Promise<SmtpSink> {
    const sink = new SmtpSink(await freePort());
    await new Promise<void>((resolve, reject) => {
      sink.server.once('error', reject);
      sink.server.listen(sink.port, '127.0.0.1', () => resolve());
    });
    sink.server.on('error', () => undefined);
    return sink;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
