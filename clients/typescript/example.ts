// The typed client against a running service: signs a new account up, asks you for the code the service
// sent, signs in with it, reads the account, refreshes the session and signs out.
//
//   npm start                 (one terminal: the embedded development server; codes appear in its log)
//   npm run client:example    (another terminal, in the same directory)
//
// OTP_GATEWAY_URL points it at another server (default http://127.0.0.1:3000); an email address as
// the first argument signs that address up instead of a made-up one.
/* eslint-disable no-console -- a command-line example: what it prints is for the person running it */
import { createInterface } from 'node:readline/promises';
import { bearer, createOtpGatewayClient, type ApiError } from './src/index.js';

const baseUrl = process.env.OTP_GATEWAY_URL ?? 'http://127.0.0.1:3000';
const email = process.argv[2] ?? `newcomer-${Date.now()}@example.com`;
const password = 'a long enough example password';

const client = createOtpGatewayClient({ baseUrl });
const prompt = createInterface({ input: process.stdin, output: process.stdout });

function fail(step: string, error: ApiError): never {
  console.error(`${step}: ${error.statusCode} ${error.code}: ${error.message}`);
  process.exit(1);
}

const registered = await client.POST('/v1/auth/register', { body: { email, password } }).catch((error: unknown) => {
  console.error(
    `Cannot reach ${baseUrl} (${error instanceof Error ? error.message : String(error)}): is the service running? Start it with npm start.`,
  );
  process.exit(1);
});
if (registered.error) fail('register', registered.error);
const { challengeId, to } = registered.data;
console.log(`Signed up ${email}; a code went to ${to}.`);
console.log(`In development the service's log shows it, in a line like "[email] code 123456 for ${email} (purpose signup, …)".`);

let session;
for (;;) {
  // Whatever was copied works: "123456", "123 456" or the whole line.
  const code = (await prompt.question('Code: '))
    .match(/\d(?:[\s-]?\d)*/g)
    ?.map((group) => group.replace(/\D/g, ''))
    .find((digits) => digits.length >= 6);
  if (code === undefined) {
    console.log('That has no code in it (6 digits or more).');
    continue;
  }
  const verified = await client.POST('/v1/auth/otp/verify', { body: { challengeId, code } });
  if (verified.data) {
    // A challenge instead of tokens comes only from a password reset of an account with an authenticator app.
    if (!('accessToken' in verified.data)) throw new Error('otp/verify answered a challenge instead of tokens');
    session = verified.data;
    break;
  }
  if (verified.error.code !== 'OTP_INCORRECT') fail('verify', verified.error);
  console.log(`Not that one: ${verified.error.attemptsRemaining} attempts left.`);
}
prompt.close();
console.log(`Signed in: a ${session.tokenType} access token for ${session.expiresIn} s, and a refresh token.`);

const me = await client.GET('/v1/auth/me', { headers: bearer(session.accessToken) });
if (me.error) fail('me', me.error);
console.log(`GET /v1/auth/me: ${me.data.email}, verified: ${me.data.emailVerified}, account created ${me.data.createdAt}.`);

const refreshed = await client.POST('/v1/auth/token/refresh', { body: { refreshToken: session.refreshToken } });
if (refreshed.error) fail('refresh', refreshed.error);
console.log('Refreshed: a new pair of the same session (the refresh token presented is now rotated).');

const loggedOut = await client.POST('/v1/auth/logout', {
  headers: bearer(refreshed.data.accessToken),
  body: { refreshToken: refreshed.data.refreshToken },
});
if (loggedOut.error) fail('logout', loggedOut.error);
const after = await client.GET('/v1/auth/me', { headers: bearer(refreshed.data.accessToken) });
console.log(`Signed out: the access token is now refused (${after.response.status} ${after.error?.code}).`);
