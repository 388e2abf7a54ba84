import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { FakeVendorServer, type Failure, type ReceivedRequest, type Reply } from './fake-vendor-server.js';

export const FAKE_SENDGRID_API_KEY = `SG.${'k'.repeat(22)}.${'s'.repeat(43)}`;

export interface SendgridMail {
  personalizations?: { to?: { email?: string; name?: string }[] }[];
  from?: { email?: string; name?: string };
  subject?: string;
  content?: { type?: string; value?: string }[];
}

/** SendGrid's v3 Mail Send API and a key-scopes route for probes, with SendGrid's error bodies. */
export class FakeSendgrid extends FakeVendorServer {
  /** Mails accepted, with the X-Message-Id SendGrid answered with. */
  readonly accepted: { messageId: string; mail: SendgridMail }[] = [];
  private readonly signingKey: KeyObject;
  /** The Event Webhook's verification key as SendGrid's settings show it: base64 of the DER public key. */
  readonly webhookPublicKey: string;

  private constructor(readonly apiKey: string) {
    super();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.signingKey = privateKey;
    this.webhookPublicKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  }

  /**
   * Posts events as SendGrid's signed Event Webhook does: a JSON array, signed with ECDSA P-256 over
   * the timestamp header followed by the body. `forge` signs with a key of its own instead.
   */
  async postEvents(url: string, events: Record<string, unknown>[], options: { forge?: boolean } = {}): Promise<Response> {
    const body = JSON.stringify(events);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const key = options.forge ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey : this.signingKey;
    const signature = sign('sha256', Buffer.from(timestamp + body), key).toString('base64');
    return fetch(`${url}/v1/webhooks/sendgrid/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signature,
        'x-twilio-email-event-webhook-timestamp': timestamp,
      },
      body,
    });
  }

  static start(options: { apiKey?: string } = {}): Promise<FakeSendgrid> {
    return new FakeSendgrid(options.apiKey ?? FAKE_SENDGRID_API_KEY).listen();
  }

  get mails(): SendgridMail[] {
    return this.received.filter((r) => r.method === 'POST' && r.path === '/v3/mail/send').map((r) => r.json as SendgridMail);
  }

  protected handle(request: ReceivedRequest): Reply {
    if (request.headers.authorization !== `Bearer ${this.apiKey}`) {
      return this.error(401, [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null }]);
    }
    if (request.method === 'GET' && request.path === '/v3/scopes') return { status: 200, body: { scopes: ['mail.send'] } };
    if (request.method === 'POST' && request.path === '/v3/mail/send') return this.send(request.json as SendgridMail | undefined);
    return this.error(404, [{ message: 'resource not found', field: null }]);
  }

  protected errorReply(failure: Exclude<Failure, 'hang'>): Reply {
    return this.error(failure.status, [{ message: failure.message ?? 'Failure requested by the test', field: failure.field ?? null }]);
  }

  private send(mail: SendgridMail | undefined): Reply {
    const errors: { message: string; field: string | null }[] = [];
    const personalizations = mail?.personalizations ?? [];
    if (personalizations.length === 0) errors.push({ message: 'The personalizations field is required.', field: 'personalizations' });
    personalizations.forEach((p, i) => {
      if (!p.to?.length) errors.push({ message: 'The to array is required.', field: `personalizations.${i}.to` });
      p.to?.forEach((to, j) => {
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to.email ?? '')) {
          errors.push({ message: 'Does not contain a valid address.', field: `personalizations.${i}.to.${j}.email` });
        }
      });
    });
    if (!mail?.from?.email) errors.push({ message: 'The from email is required.', field: 'from.email' });
    if (!mail?.subject) errors.push({ message: 'The subject is required.', field: 'subject' });
    const content = mail?.content ?? [];
    if (content.length === 0 || content.some((c) => !c.type || !c.value)) {
      errors.push({ message: 'Each content item must have a type and a value.', field: 'content' });
    }
    const html = content.findIndex((c) => c.type === 'text/html');
    const text = content.findIndex((c) => c.type === 'text/plain');
    if (text > html && html >= 0) errors.push({ message: 'text/plain must come before text/html.', field: 'content' });
    if (errors.length > 0) return this.error(400, errors);
    const messageId = randomBytes(11).toString('base64url');
    this.accepted.push({ messageId, mail: mail! });
    return { status: 202, headers: { 'x-message-id': messageId } };
  }

  private error(status: number, errors: { message: string; field: string | null }[]): Reply {
    return { status, body: { errors: errors.map((e) => ({ ...e, help: null })) } };
  }
}
