import { isAllowedSnsUrl, parseSnsMessage, stringToSign } from './sns-message.js';

const AWS = ['https://sns.*.amazonaws.com'];

describe('SNS URLs', () => {
  it("are fetched only from SNS's own hosts", () => {
    expect(isAllowedSnsUrl('https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem', AWS)).toBe(true);
    expect(isAllowedSnsUrl('http://sns.eu-west-1.amazonaws.com/x.pem', AWS)).toBe(false);
    expect(isAllowedSnsUrl('https://sns.eu-west-1.amazonaws.com.evil.example/x.pem', AWS)).toBe(false);
    expect(isAllowedSnsUrl('https://evil.example/?sns.eu-west-1.amazonaws.com', AWS)).toBe(false);
    expect(isAllowedSnsUrl('https://sns.a.b.amazonaws.com/x.pem', AWS)).toBe(false);
    expect(isAllowedSnsUrl('https://user@sns.eu-west-1.amazonaws.com/x.pem', AWS)).toBe(false);
    expect(isAllowedSnsUrl('http://169.254.169.254/latest/meta-data/', AWS)).toBe(false);
    expect(isAllowedSnsUrl('not a url', AWS)).toBe(false);
  });
});

describe('SNS messages', () => {
  it('are signed over the fields of their type, in order, without the absent Subject', () => {
    const message = parseSnsMessage(
      JSON.stringify({
        Type: 'Notification',
        MessageId: 'm',
        TopicArn: 't',
        Message: '{}',
        Timestamp: '2026-01-01T00:00:00.000Z',
        SignatureVersion: '2',
        Signature: 's',
        SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/c.pem',
      }),
    )!;
    expect(stringToSign(message)).toBe('Message\n{}\nMessageId\nm\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\nt\nType\nNotification\n');
  });

  it('are refused when a signed field is missing or the body is not one', () => {
    expect(parseSnsMessage('{"Type":"Notification"}')).toBeUndefined();
    expect(parseSnsMessage('[')).toBeUndefined();
    expect(parseSnsMessage({})).toBeUndefined();
  });
});
