import { randomBytes } from 'node:crypto';
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
  private constructor(readonly apiKey: string) {
    super();
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
    return { status: 202, headers: { 'x-message-id': randomBytes(11).toString('base64url') } };
  }

  private error(status: number, errors: { message: string; field: string | null }[]): Reply {
    return { status, body: { errors: errors.map((e) => ({ ...e, help: null })) } };
  }
}
