import { randomUUID } from 'node:crypto';
import { E164, FakeVendorServer, type Failure, type ReceivedRequest, type Reply, sigV4AccessKeyId } from './fake-vendor-server.js';

export const FAKE_AWS_ACCESS_KEY_ID = 'AKIAFAKEFAKEFAKE0001';
export const FAKE_AWS_SECRET_ACCESS_KEY = 'fake-secret-access-key-0001';

export interface SnsPublish {
  PhoneNumber?: string;
  Message?: string;
  /** `MessageAttributes.entry.N.*` gathered by name. */
  attributes: Record<string, { DataType?: string; StringValue?: string }>;
}

/**
 * Amazon SNS as @aws-sdk/client-sns speaks it: the AWS Query protocol (form-encoded `Action=…` posted
 * to `/`, XML answers), with a Signature V4 header that must name the expected access key.
 */
export class FakeSns extends FakeVendorServer {
  private constructor(readonly accessKeyId: string) {
    super();
  }

  static start(options: { accessKeyId?: string } = {}): Promise<FakeSns> {
    return new FakeSns(options.accessKeyId ?? FAKE_AWS_ACCESS_KEY_ID).listen();
  }

  get publishes(): SnsPublish[] {
    return this.received.filter((r) => r.form.Action === 'Publish').map((r) => parsePublish(r.form));
  }

  protected handle(request: ReceivedRequest): Reply {
    const keyId = sigV4AccessKeyId(request.headers);
    if (keyId === undefined) return this.error(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    if (keyId !== this.accessKeyId) {
      return this.error(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (request.method !== 'POST' || request.path !== '/') return this.error(404, 'NotFound', 'Not found');
    const { Action: action, Version: version } = request.form;
    if (version !== '2010-03-31') return this.error(400, 'InvalidAction', `Unsupported version ${version}`);
    if (action === 'Publish') return this.publish(request.form);
    if (action === 'GetSMSAttributes') {
      return this.ok('GetSMSAttributes', '<attributes><entry><key>DefaultSMSType</key><value>Transactional</value></entry></attributes>');
    }
    return this.error(400, 'InvalidAction', `The action ${action} is not valid for this endpoint.`);
  }

  protected errorReply(failure: Exclude<Failure, 'hang'>): Reply {
    return this.error(failure.status, String(failure.code ?? 'InternalError'), failure.message ?? 'Failure requested by the test');
  }

  private publish(form: Record<string, string>): Reply {
    const publish = parsePublish(form);
    if (!publish.Message) return this.error(400, 'InvalidParameter', 'Invalid parameter: Message');
    if (!publish.PhoneNumber || !E164.test(publish.PhoneNumber)) {
      return this.error(400, 'InvalidParameter', 'Invalid parameter: PhoneNumber Reason: input incorrectly formatted');
    }
    return this.ok('Publish', `<MessageId>${randomUUID()}</MessageId>`);
  }

  private ok(action: string, result: string): Reply {
    return {
      status: 200,
      headers: { 'content-type': 'text/xml' },
      body:
        `<${action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><${action}Result>${result}</${action}Result>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
    };
  }

  private error(status: number, code: string, message: string): Reply {
    return {
      status,
      headers: { 'content-type': 'text/xml' },
      body:
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">' +
        `<Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>` +
        `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    };
  }
}

function parsePublish(form: Record<string, string>): SnsPublish {
  const attributes: SnsPublish['attributes'] = {};
  for (const [key, name] of Object.entries(form)) {
    const entry = /^MessageAttributes\.entry\.(\d+)\.Name$/.exec(key);
    if (!entry) continue;
    const prefix = `MessageAttributes.entry.${entry[1]}.Value`;
    attributes[name] = { DataType: form[`${prefix}.DataType`], StringValue: form[`${prefix}.StringValue`] };
  }
  return { PhoneNumber: form.PhoneNumber, Message: form.Message, attributes };
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
