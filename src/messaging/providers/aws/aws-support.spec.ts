import { InvalidParameterException, ThrottledException } from '@aws-sdk/client-sns';
import { MessageRejected, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { SES_ERROR_CODES } from '../email/ses.provider.js';
import { SNS_ERROR_CODES } from '../sms/sns.provider.js';
import { classifyAwsError } from './aws-support.js';

const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const unmodeled = (name: string, status: number) => Object.assign(new Error('refused'), { name, ...metadata(status) });

describe('classifyAwsError for SNS', () => {
  const classify = (error: unknown) => classifyAwsError('sns', 'SNS', SNS_ERROR_CODES, error);

  it('treats an invalid parameter (the phone number) as permanent', () => {
    const error = new InvalidParameterException({ message: 'Invalid parameter: PhoneNumber', ...metadata(400) });

    expect(classify(error)).toMatchObject({ provider: 'sns', kind: 'permanent', vendorCode: 'InvalidParameter' });
    expect(classify(unmodeled('InvalidParameterValue', 400)).kind).toBe('permanent');
  });

  it.each([
    'InvalidClientTokenId',
    'SignatureDoesNotMatch',
    'UnrecognizedClientException',
    'AccessDeniedException',
    'AuthorizationErrorException',
    'ExpiredToken',
  ])('treats %s as auth', (name) => {
    expect(classify(unmodeled(name, name === 'AuthorizationErrorException' ? 403 : 400)).kind).toBe('auth');
  });

  it('treats a 401 or 403 it does not know as auth', () => {
    expect(classify(unmodeled('SomethingNew', 403)).kind).toBe('auth');
  });

  it('treats throttling, 5xx and network failures as an outage', () => {
    expect(classify(new ThrottledException({ message: 'slow down', ...metadata(429) })).kind).toBe('outage');
    expect(classify(unmodeled('InternalError', 500)).kind).toBe('outage');
    expect(classify(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({
      kind: 'outage',
      message: 'SNS unreachable: connect ECONNREFUSED',
    });
  });

  it('treats missing credentials as auth', () => {
    expect(
      classify(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })).kind,
    ).toBe('auth');
  });
});

describe('classifyAwsError for SES', () => {
  const classify = (error: unknown) => classifyAwsError('ses', 'SES', SES_ERROR_CODES, error);

  it('treats a rejected message and an unusable address as permanent', () => {
    expect(classify(new MessageRejected({ message: 'Email address is not verified.', ...metadata(400) }))).toMatchObject({
      kind: 'permanent',
      vendorCode: 'MessageRejected',
    });
    expect(classify(unmodeled('BadRequestException', 400)).kind).toBe('permanent');
  });

  it('treats an unverified sender domain, a paused or suspended account as auth', () => {
    for (const name of ['MailFromDomainNotVerifiedException', 'SendingPausedException', 'AccountSuspendedException']) {
      expect(classify(unmodeled(name, 400)).kind).toBe('auth');
    }
  });

  it('treats throttling as an outage', () => {
    expect(classify(new TooManyRequestsException({ message: 'slow down', ...metadata(429) })).kind).toBe('outage');
  });
});
