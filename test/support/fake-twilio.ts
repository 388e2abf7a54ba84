import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { E164, FakeVendorServer, type Failure, type ReceivedRequest, type Reply } from './fake-vendor-server.js';

export const FAKE_TWILIO_ACCOUNT_SID = `AC${'1'.repeat(32)}`;
export const FAKE_TWILIO_AUTH_TOKEN = 'f'.repeat(32);
export const FAKE_TWILIO_VERIFY_SID = `VA${'2'.repeat(32)}`;

const sid = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

/**
 * Twilio's REST API as the SDK speaks it: the Messages API (api.twilio.com) and Verify v2
 * (verify.twilio.com) on one port, told apart by path, with Basic auth and Twilio's error bodies.
 */
export class FakeTwilio extends FakeVendorServer {
  /** Verify: the pending code per `<service>:<to>`, as Twilio would have texted it. */
  private readonly pending = new Map<string, string>();

  private constructor(
    readonly accountSid: string,
    readonly authToken: string,
    readonly verifyServiceSid: string,
  ) {
    super();
  }

  static start(options: { accountSid?: string; authToken?: string; verifyServiceSid?: string } = {}): Promise<FakeTwilio> {
    return new FakeTwilio(
      options.accountSid ?? FAKE_TWILIO_ACCOUNT_SID,
      options.authToken ?? FAKE_TWILIO_AUTH_TOKEN,
      options.verifyServiceSid ?? FAKE_TWILIO_VERIFY_SID,
    ).listen();
  }

  /** The code Twilio Verify sent to `to`, if one is pending. */
  codeFor(to: string): string | undefined {
    return this.pending.get(`${this.verifyServiceSid}:${to}`);
  }

  /** Messages created, with the SID Twilio answered with and the form they were created with. */
  readonly created: { sid: string; form: Record<string, string> }[] = [];

  /**
   * Posts a status callback for a created message as Twilio does: form-encoded to its StatusCallback
   * URL, signed with X-Twilio-Signature (HMAC-SHA1 with the auth token over that URL and the sorted
   * fields). `deliverTo` is where the service really listens, when the public URL points elsewhere;
   * `signWith` signs with another token (a forgery).
   */
  async sendStatus(
    sid: string,
    status: 'sent' | 'delivered' | 'undelivered' | 'failed',
    options: { errorCode?: string; deliverTo: string; signWith?: string },
  ): Promise<Response> {
    const message = this.created.find((candidate) => candidate.sid === sid);
    const callback = message?.form.StatusCallback;
    if (!message || !callback) throw new Error(`message ${sid} was not created with a StatusCallback`);
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      From: message.form.From ?? '',
      MessageSid: sid,
      MessageStatus: status,
      SmsSid: sid,
      SmsStatus: status,
      To: message.form.To ?? '',
      ...(options.errorCode ? { ErrorCode: options.errorCode } : {}),
    };
    const url = new URL(callback);
    return fetch(`${options.deliverTo}${url.pathname}${url.search}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(options.signWith ?? this.authToken, callback, params),
      },
      body: new URLSearchParams(params).toString(),
    });
  }

  /** The Messages API calls received (SMS and WhatsApp). */
  get messages(): Record<string, string>[] {
    return this.received.filter((r) => r.method === 'POST' && r.path.endsWith('/Messages.json')).map((r) => r.form);
  }

  override reset(): void {
    super.reset();
    this.pending.clear();
    this.created.length = 0;
  }

  protected handle(request: ReceivedRequest): Reply {
    if (!this.authenticated(request)) return this.error(401, 20003, 'Authenticate');
    const path = request.path.split('?')[0]!;
    const account = /^\/2010-04-01\/Accounts\/(AC\w+)(\.json|\/Messages\.json)$/.exec(path);
    if (account) {
      if (account[1] !== this.accountSid) return this.error(403, 20003, 'Authenticate');
      if (account[2] === '.json' && request.method === 'GET') return this.account();
      if (account[2] === '/Messages.json' && request.method === 'POST') return this.createMessage(request.form);
    }
    const verify = /^\/v2\/Services\/(VA\w+)\/(Verifications|VerificationCheck)$/.exec(path);
    if (verify && request.method === 'POST') {
      if (verify[1] !== this.verifyServiceSid) return this.error(404, 20404, `The requested resource ${path} was not found`);
      return verify[2] === 'Verifications' ? this.startVerification(request.form) : this.checkVerification(request.form, path);
    }
    return this.error(404, 20404, `The requested resource ${path} was not found`);
  }

  protected errorReply(failure: Exclude<Failure, 'hang'>): Reply {
    return this.error(failure.status, Number(failure.code ?? failure.status), failure.message ?? 'Failure requested by the test');
  }

  private authenticated(request: ReceivedRequest): boolean {
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    return request.headers.authorization === expected;
  }

  private error(status: number, code: number, message: string): Reply {
    return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
  }

  private account(): Reply {
    return {
      status: 200,
      body: { sid: this.accountSid, friendly_name: 'Fake account', status: 'active', type: 'Full', owner_account_sid: this.accountSid },
    };
  }

  private createMessage(form: Record<string, string>): Reply {
    const { To: to, From: from, MessagingServiceSid: service, Body: body } = form;
    if (!to) return this.error(400, 21604, "A 'To' phone number is required.");
    const whatsapp = to.startsWith('whatsapp:');
    if (!E164.test(to.replace(/^whatsapp:/, ''))) return this.error(400, 21211, `Invalid 'To' Phone Number: ${to}`);
    if (!from && !service) return this.error(400, 21603, "A 'From' phone number is required.");
    if (from && whatsapp !== from.startsWith('whatsapp:'))
      return this.error(400, 21910, 'Invalid From and To pair. From and To should be of the same channel');
    if (service && !/^MG[0-9a-f]{32}$/.test(service)) return this.error(400, 21701, 'The Messaging Service Sid is invalid.');
    if (!body) return this.error(400, 21602, 'Message body is required.');
    const messageSid = sid('SM');
    this.created.push({ sid: messageSid, form });
    return {
      status: 201,
      body: {
        sid: messageSid,
        account_sid: this.accountSid,
        to,
        from: from ?? null,
        messaging_service_sid: service ?? null,
        body,
        status: service ? 'accepted' : 'queued',
        direction: 'outbound-api',
        num_segments: String(Math.ceil(body.length / 153)),
        date_created: new Date().toUTCString(),
      },
    };
  }

  private startVerification(form: Record<string, string>): Reply {
    const { To: to, Channel: channel } = form;
    if (!to || !E164.test(to)) return this.error(400, 60200, 'Invalid parameter `To`');
    if (!['sms', 'whatsapp', 'call', 'email'].includes(channel ?? '')) return this.error(400, 60200, 'Invalid parameter `Channel`');
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    this.pending.set(`${this.verifyServiceSid}:${to}`, code);
    return {
      status: 201,
      body: {
        sid: sid('VE'),
        service_sid: this.verifyServiceSid,
        account_sid: this.accountSid,
        to,
        channel,
        status: 'pending',
        valid: false,
        lookup: {},
        send_code_attempts: [],
      },
    };
  }

  private checkVerification(form: Record<string, string>, path: string): Reply {
    const { To: to, Code: code } = form;
    if (!to || !code) return this.error(400, 60200, 'Invalid parameter');
    const key = `${this.verifyServiceSid}:${to}`;
    const expected = this.pending.get(key);
    if (expected === undefined) return this.error(404, 20404, `The requested resource ${path} was not found`);
    const approved = code === expected;
    if (approved) this.pending.delete(key);
    return {
      status: 200,
      body: {
        sid: sid('VE'),
        service_sid: this.verifyServiceSid,
        account_sid: this.accountSid,
        to,
        channel: 'sms',
        status: approved ? 'approved' : 'pending',
        valid: approved,
      },
    };
  }
}

/** Twilio's request signature: base64 HMAC-SHA1 over the full URL followed by each field name and value, sorted by name. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64');
}
