import { randomUUID } from 'node:crypto';
import { FakeVendorServer, type Failure, type ReceivedRequest, type Reply, sigV4AccessKeyId } from './fake-vendor-server.js';
import { FAKE_AWS_ACCESS_KEY_ID } from './fake-sns.js';

export interface SesSendEmail {
  FromEmailAddress?: string;
  Destination?: { ToAddresses?: string[] };
  Content?: {
    Simple?: {
      Subject?: { Data?: string; Charset?: string };
      Body?: { Text?: { Data?: string; Charset?: string }; Html?: { Data?: string; Charset?: string } };
    };
  };
}

/**
 * Amazon SES API v2 (REST and JSON), as @aws-sdk/client-sesv2 speaks it; errors carry their type in
 * `x-amzn-ErrorType`, as SES does.
 */
export class FakeSes extends FakeVendorServer {
  /** Emails accepted, with the MessageId SES answered with. */
  readonly accepted: { messageId: string; email: SesSendEmail }[] = [];

  private constructor(readonly accessKeyId: string) {
    super();
  }

  static start(options: { accessKeyId?: string } = {}): Promise<FakeSes> {
    return new FakeSes(options.accessKeyId ?? FAKE_AWS_ACCESS_KEY_ID).listen();
  }

  get emails(): SesSendEmail[] {
    return this.received.filter((r) => r.path === '/v2/email/outbound-emails').map((r) => r.json as SesSendEmail);
  }

  protected handle(request: ReceivedRequest): Reply {
    const keyId = sigV4AccessKeyId(request.headers);
    if (keyId === undefined) return this.error(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    if (keyId !== this.accessKeyId)
      return this.error(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (request.method === 'GET' && request.path === '/v2/email/account') {
      return {
        status: 200,
        body: {
          SendingEnabled: true,
          ProductionAccessEnabled: true,
          EnforcementStatus: 'HEALTHY',
          DedicatedIpAutoWarmupEnabled: false,
          SendQuota: { Max24HourSend: 50000, MaxSendRate: 14, SentLast24Hours: 0 },
        },
      };
    }
    if (request.method === 'POST' && request.path === '/v2/email/outbound-emails')
      return this.sendEmail(request.json as SesSendEmail | undefined);
    return this.error(404, 'NotFoundException', `No route for ${request.method} ${request.path}`);
  }

  protected errorReply(failure: Exclude<Failure, 'hang'>): Reply {
    return this.error(failure.status, String(failure.code ?? 'InternalFailure'), failure.message ?? 'Failure requested by the test');
  }

  private sendEmail(email: SesSendEmail | undefined): Reply {
    const simple = email?.Content?.Simple;
    if (!email?.FromEmailAddress) return this.error(400, 'BadRequestException', 'FromEmailAddress is required');
    const to = email.Destination?.ToAddresses ?? [];
    if (to.length === 0) return this.error(400, 'BadRequestException', 'Missing final destination');
    if (to.some((address) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address))) return this.error(400, 'BadRequestException', 'Illegal address');
    if (!simple?.Subject?.Data) return this.error(400, 'BadRequestException', 'Subject is required');
    if (!simple.Body?.Text?.Data && !simple.Body?.Html?.Data) return this.error(400, 'BadRequestException', 'Body is required');
    const messageId = `${randomUUID()}-000000`;
    this.accepted.push({ messageId, email });
    return { status: 200, body: { MessageId: messageId } };
  }

  private error(status: number, type: string, message: string): Reply {
    return { status, headers: { 'x-amzn-ErrorType': type, 'x-amzn-RequestId': randomUUID() }, body: { message } };
  }
}
