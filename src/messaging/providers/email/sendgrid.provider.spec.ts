import { classifySendgridResponse, parseSender } from './sendgrid.provider.js';

const response = (status: number, errors?: { message: string; field: string | null }[]) =>
  new Response(errors ? JSON.stringify({ errors }) : '', { status });

describe('classifySendgridResponse', () => {
  it('treats a 400 about a recipient as permanent', async () => {
    const error = await classifySendgridResponse(
      response(400, [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email' }]),
    );

    expect(error).toMatchObject({
      provider: 'sendgrid',
      kind: 'permanent',
      vendorCode: 400,
      message: 'SendGrid 400: Does not contain a valid address.',
    });
  });

  it('treats a refused key or an unverified sender as auth', async () => {
    expect((await classifySendgridResponse(response(401, [{ message: 'bad key', field: null }]))).kind).toBe('auth');
    expect((await classifySendgridResponse(response(403, [{ message: 'unverified sender', field: 'from' }]))).kind).toBe('auth');
  });

  it('treats throttling, 5xx and a 400 not about the recipient as an outage', async () => {
    expect((await classifySendgridResponse(response(429))).kind).toBe('outage');
    expect((await classifySendgridResponse(response(502))).kind).toBe('outage');
    expect((await classifySendgridResponse(response(400, [{ message: 'bad from', field: 'from.email' }]))).kind).toBe('outage');
  });
});

describe('parseSender', () => {
  it('splits a display name from the address', () => {
    expect(parseSender('OTP Gateway <no-reply@example.com>')).toEqual({ email: 'no-reply@example.com', name: 'OTP Gateway' });
    expect(parseSender('"Acme, Inc." <no-reply@example.com>')).toEqual({ email: 'no-reply@example.com', name: 'Acme, Inc.' });
    expect(parseSender('no-reply@example.com')).toEqual({ email: 'no-reply@example.com' });
    expect(parseSender('<no-reply@example.com>')).toEqual({ email: 'no-reply@example.com' });
  });
});
