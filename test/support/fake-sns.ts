import { execFileSync } from 'node:child_process';
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E164, FakeVendorServer, type Failure, type ReceivedRequest, type Reply, sigV4AccessKeyId } from './fake-vendor-server.js';

export const FAKE_AWS_ACCESS_KEY_ID = 'AKIAFAKEFAKEFAKE0001';
export const FAKE_AWS_SECRET_ACCESS_KEY = 'fake-secret-access-key-0001';
export const FAKE_SNS_TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ses-events';

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
  /** Where the signing certificate is served, as SNS's SigningCertURL names it. */
  readonly certificatePath = '/SimpleNotificationService-fake.pem';
  /** Tokens of the subscriptions confirmed by a GET of their SubscribeURL. */
  readonly confirmed: string[] = [];
  private readonly signing = signingCertificate();

  private constructor(readonly accessKeyId: string) {
    super();
  }

  /**
   * Delivers a message to an HTTPS subscription as SNS does: JSON posted as text/plain, signed
   * (SignatureVersion 2: RSA-SHA256 over AWS's string to sign) with the key of the certificate this
   * fake serves. `forge` signs with another key; `certificateUrl` names another certificate.
   */
  async deliver(
    url: string,
    type: 'Notification' | 'SubscriptionConfirmation',
    message: string,
    options: { forge?: boolean; certificateUrl?: string; subscribeUrl?: string; topicArn?: string } = {},
  ): Promise<Response> {
    const token = randomUUID().replaceAll('-', '');
    const topicArn = options.topicArn ?? FAKE_SNS_TOPIC_ARN;
    const fields: Record<string, string> = {
      Type: type,
      MessageId: randomUUID(),
      TopicArn: topicArn,
      Message: message,
      Timestamp: new Date().toISOString(),
      ...(type === 'SubscriptionConfirmation'
        ? {
            Token: token,
            SubscribeURL: options.subscribeUrl ?? `${this.url}/?Action=ConfirmSubscription&TopicArn=${topicArn}&Token=${token}`,
          }
        : {}),
    };
    const signedNames =
      type === 'Notification'
        ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
        : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
    const toSign = signedNames
      .filter((name) => fields[name] !== undefined)
      .map((name) => `${name}\n${fields[name]}\n`)
      .join('');
    const key = options.forge ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : this.signing.key;
    const signature = createSign('RSA-SHA256').update(toSign, 'utf8').sign(key, 'base64');
    const body = {
      ...fields,
      SignatureVersion: '2',
      Signature: signature,
      SigningCertURL: options.certificateUrl ?? `${this.url}${this.certificatePath}`,
    };
    return fetch(`${url}/v1/webhooks/ses`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': type, 'x-amz-sns-topic-arn': topicArn },
      body: JSON.stringify(body),
    });
  }

  static start(options: { accessKeyId?: string } = {}): Promise<FakeSns> {
    return new FakeSns(options.accessKeyId ?? FAKE_AWS_ACCESS_KEY_ID).listen();
  }

  get publishes(): SnsPublish[] {
    return this.received.filter((r) => r.form.Action === 'Publish').map((r) => parsePublish(r.form));
  }

  protected handle(request: ReceivedRequest): Reply {
    if (request.method === 'GET' && request.path === this.certificatePath) {
      return { status: 200, headers: { 'content-type': 'application/x-x509-ca-cert' }, body: this.signing.certificate };
    }
    if (request.method === 'GET' && request.path.startsWith('/?Action=ConfirmSubscription')) {
      this.confirmed.push(new URL(request.path, this.url).searchParams.get('Token') ?? '');
      return this.ok('ConfirmSubscription', '<SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:ses-events:1</SubscriptionArn>');
    }
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

/** A self-signed RSA certificate and its key, as SNS signs with (made with the openssl command). */
function signingCertificate(): { certificate: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-sns-'));
  try {
    const [keyFile, certificateFile] = [join(dir, 'key.pem'), join(dir, 'certificate.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certificateFile,
        '-days',
        '1',
        '-subj',
        '/CN=sns.amazonaws.com',
      ],
      {
        stdio: 'ignore',
      },
    );
    return { certificate: readFileSync(certificateFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
