import twilio from 'twilio';
import { classifyTwilioError } from './twilio-client.js';

const restException = (statusCode: number, code?: number) =>
  new twilio.RestException({
    statusCode,
    body: { code, message: 'refused', more_info: 'https://www.twilio.com/docs/errors', status: statusCode },
  });

describe('classifyTwilioError', () => {
  it.each([21211, 21614, 21608, 21610, 21612, 21408, 60200, 60205])('treats error %i as permanent', (code) => {
    expect(classifyTwilioError('twilio', restException(400, code))).toMatchObject({
      provider: 'twilio',
      kind: 'permanent',
      vendorCode: code,
    });
  });

  it.each([
    [401, 20003],
    [403, undefined],
    [404, 20404],
    [400, 21606],
    [400, 21659],
  ])('treats HTTP %i with error %s as auth', (status, code) => {
    expect(classifyTwilioError('twilio-verify', restException(status, code)).kind).toBe('auth');
  });

  it.each([
    [429, 20429],
    [500, undefined],
    [503, 20503],
    [400, 21999],
  ])('treats HTTP %i with error %s as an outage', (status, code) => {
    expect(classifyTwilioError('twilio', restException(status, code)).kind).toBe('outage');
  });

  it('treats network failures and timeouts as an outage', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
    const timedOut = Object.assign(new Error('timeout of 15000ms exceeded'), { code: 'ECONNABORTED' });

    expect(classifyTwilioError('twilio', refused)).toMatchObject({
      kind: 'outage',
      message: 'Twilio unreachable: connect ECONNREFUSED 127.0.0.1:443',
    });
    expect(classifyTwilioError('twilio', timedOut).kind).toBe('outage');
  });

  it('names status and code in the message, which never carries credentials', () => {
    expect(classifyTwilioError('twilio', restException(400, 21211)).message).toBe('Twilio 400 (21211): refused');
  });
});
