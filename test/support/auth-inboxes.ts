import { eventually } from './eventually.js';
import { FakeTwilio } from './fake-twilio.js';
import { type ReceivedMail, SmtpTestServer } from './smtp-test-server.js';

export const SMTP_FROM = 'OTP Gateway <no-reply@example.com>';
export const TWILIO_SMS_FROM = '+14155550100';
export const TWILIO_WHATSAPP_FROM = '+14155550199';
const CODE = /\b(\d{6})\b/;

export const JWT_SECRET = 'e2e-jwt-secret-0123456789abcdefghijkl';

/** One message as a person would find it: email or a text, with the code in it if there is one. */
export interface ReceivedMessage {
  channel: 'email' | 'sms' | 'whatsapp';
  to: string;
  subject: string | undefined;
  text: string;
}

/**
 * What the real SMTP server and the fake Twilio received, read the way the person at the other end
 * would: codes come from the delivered messages, never from the app's own log.
 */
export class Inboxes {
  private readonly seen = new Set<string>();

  private constructor(
    readonly smtp: SmtpTestServer,
    readonly twilio: FakeTwilio,
  ) {}

  static async start(): Promise<Inboxes> {
    return new Inboxes(await SmtpTestServer.start(), await FakeTwilio.start());
  }

  /** The variables that point the app's email, SMS and WhatsApp chains at these servers only. */
  env(): Record<string, string> {
    return {
      OTP_CHANNELS: 'email,sms,whatsapp',
      EMAIL_PROVIDERS: 'smtp',
      SMTP_HOST: this.smtp.host,
      SMTP_PORT: String(this.smtp.port),
      SMTP_FROM,
      SMS_PROVIDERS: 'twilio',
      WHATSAPP_PROVIDERS: 'twilio-whatsapp',
      TWILIO_ACCOUNT_SID: this.twilio.accountSid,
      TWILIO_AUTH_TOKEN: this.twilio.authToken,
      TWILIO_FROM: TWILIO_SMS_FROM,
      TWILIO_WHATSAPP_FROM,
      TWILIO_API_BASE_URL: this.twilio.url,
    };
  }

  /** Every message delivered to `to` so far (an email address or an E.164 number), oldest first. */
  messagesTo(to: string): ReceivedMessage[] {
    return this.received()
      .filter(({ message }) => message.to === to.toLowerCase())
      .map(({ message }) => message);
  }

  /** Waits for the next message to `to` that was not returned before (and that matches, when given). */
  async next(to: string, matches: (message: ReceivedMessage) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedMessage> {
    let found: { key: string; message: ReceivedMessage } | undefined;
    await eventually(async () => {
      found = this.received().find(({ key, message }) => message.to === to.toLowerCase() && !this.seen.has(key) && matches(message));
      if (!found) throw new Error(`no new message to ${to}`);
    }, timeoutMs);
    this.seen.add(found!.key);
    return found!.message;
  }

  /** Waits for the next message with a code to `to` and returns the code; notices without one are left for `next`. */
  async nextCode(to: string): Promise<string> {
    const message = await this.next(to, (candidate) => CODE.test(candidate.text));
    return CODE.exec(message.text)![1]!;
  }

  async close(): Promise<void> {
    await this.smtp.stop();
    await this.twilio.close();
  }

  private received(): { key: string; message: ReceivedMessage }[] {
    const mails = this.smtp.received.flatMap((mail, m) => mail.to.map((to, r) => ({ key: `mail:${m}:${r}`, message: fromMail(mail, to) })));
    const texts = this.twilio.messages.map((form, i) => ({ key: `text:${i}`, message: fromText(form) }));
    return [...mails, ...texts];
  }
}

function fromMail(mail: ReceivedMail, to: string): ReceivedMessage {
  return { channel: 'email', to: to.toLowerCase(), subject: mail.subject, text: mail.text ?? '' };
}

function fromText(form: Record<string, string>): ReceivedMessage {
  const to = form.To ?? '';
  const whatsapp = to.startsWith('whatsapp:');
  return { channel: whatsapp ? 'whatsapp' : 'sms', to: to.replace(/^whatsapp:/, ''), subject: undefined, text: form.Body ?? '' };
}
