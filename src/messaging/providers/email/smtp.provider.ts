import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import addressparser from 'nodemailer/lib/addressparser';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import { type MessageProvider, ProviderError, type RenderedMessage, type SendResult } from '../../message-provider.js';
import { errorMessage } from '../provider-support.js';
import { SmtpConnectionPool, type SmtpPoolOptions } from './smtp-connection-pool.js';
import { SmtpMessageComposer } from './smtp-message.js';

/** The part of a nodemailer error that tells what went wrong and at which step. */
export interface SmtpErrorFields {
  code?: string;
  responseCode?: number;
  command?: string;
}

/**
 * Email over SMTP, through a pool of nodemailer SMTPConnections this provider owns.
 *
 * Not through @nestjs-modules/mailer's MailerModule: its MailerService closes the transport in
 * onModuleDestroy, which Nest runs for every module before any onApplicationShutdown, and it is in
 * onApplicationShutdown that the delivery queues let the send in flight finish and begin the ones
 * accepted just before the close. A closed pool fails those ("Connection pool was closed"), so codes
 * accepted before a shutdown would be lost. Nor through a nodemailer transport: every message is
 * finished here (composed once per shape and filled in), and the transport's mailer re-parsed it and
 * its pool streamed it through several stages, more than three times the CPU of the SMTP
 * conversation itself; the pool hands it to the connection whole.
 */
@Injectable()
export class SmtpProvider implements MessageProvider<'email'>, OnApplicationShutdown {
  readonly id = 'smtp' as const;
  readonly channel = 'email' as const;
  readonly configured = true;
  private readonly pool: SmtpConnectionPool;
  private readonly composer: SmtpMessageComposer;

  constructor(@Inject(messagingConfig.KEY) config: MessagingConfig) {
    // The right-hand side of every Message-ID is the sender's domain, as nodemailer would pick it.
    this.composer = new SmtpMessageComposer(config.smtp.from, senderDomain(config.smtp.from));
    this.pool = new SmtpConnectionPool(smtpPoolOptions(config));
  }

  async send(message: RenderedMessage<'email'>): Promise<SendResult> {
    try {
      // The message is built in memory and handed over whole: streamed part by part, nodemailer wrote
      // each small MIME chunk to the socket on its own, which the CPU profile showed as a large share of
      // a delivery's cost. Same message, same envelope; only the number of socket writes changes.
      // The Message-ID and the boundaries come from randomUUID (served from a cached pool); left to
      // nodemailer, every message cost fourteen separate randomBytes calls into OpenSSL across the two
      // compiles, a tenth of a delivery's CPU in the profile.
      const { raw, envelope, messageId } = await this.composer.compose(message.to, message.body, message.code);
      await this.pool.send(envelope, raw);
      return { provider: this.id, providerMessageId: messageId };
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.pool.verify();
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  /** Not before: the delivery queues depend on this provider, so Nest has let their sends finish first. */
  onApplicationShutdown(): void {
    this.pool.close();
  }
}

export function smtpPoolOptions(config: MessagingConfig): SmtpPoolOptions {
  const { smtp, timeouts } = config;
  return {
    maxConnections: 3,
    // nodemailer's default of 100 messages a connection meant a new connection, with its STARTTLS
    // handshake, every 100 codes; a relay that wants fewer closes the connection, which the pool survives.
    maxMessages: 1000,
    // nodemailer's pool default: below the 5 minutes RFC 5321 asks a relay to wait, so the pool, not the
    // relay, ends an idle session. (A socket quiet for socketTimeout is dropped sooner, as before.)
    idleTimeout: 4 * 60_000,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    // STARTTLS is mandatory off this machine: a relay that cannot upgrade must not see a code in clear text.
    // SMTP_REQUIRE_TLS=false lifts that for a relay inside the network: STARTTLS is still used when
    // the relay offers it (nodemailer's default; ignoreTLS would turn it off), plain text otherwise.
    requireTLS: !smtp.secure && smtp.requireTls && !isLoopback(smtp.host),
    ignoreTLS: false,
    auth: smtp.user !== undefined && smtp.password !== undefined ? { user: smtp.user, pass: smtp.password } : undefined,
    // Far below a code's lifetime, so a dead relay fails over while the code is still worth delivering.
    connectionTimeout: timeouts.connectMs,
    greetingTimeout: timeouts.connectMs,
    socketTimeout: timeouts.requestMs,
    logger: false,
  };
}

function senderDomain(from: string | undefined): string {
  const [sender] = addressparser(from ?? '', { flatten: true });
  return sender?.address.split('@').pop() || 'localhost';
}

function isLoopback(host: string | undefined): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host ?? '');
}

export function classifySmtpError(error: unknown): ProviderError {
  const { code, responseCode, command } = (error ?? {}) as SmtpErrorFields;
  const step = (command ?? '').toUpperCase();
  const message = `SMTP: ${errorMessage(error)}`;
  const vendorCode = responseCode ?? code;
  if (code === 'EAUTH' || responseCode === 535 || responseCode === 534 || responseCode === 530) {
    return new ProviderError('smtp', 'auth', message, vendorCode);
  }
  if (responseCode !== undefined && responseCode >= 500 && responseCode < 600) {
    // The relay refused our sender: every message would fail the same way until the configuration changes.
    if (step.startsWith('MAIL')) return new ProviderError('smtp', 'auth', message, vendorCode);
    if (step.startsWith('RCPT') || step.startsWith('DATA') || code === 'EENVELOPE' || code === 'EMESSAGE') {
      return new ProviderError('smtp', 'permanent', message, vendorCode);
    }
  }
  // 4xx (try later), refused or dropped connections, timeouts, TLS and DNS failures.
  return new ProviderError('smtp', 'outage', message, vendorCode);
}
