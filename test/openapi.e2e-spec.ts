import { readFileSync } from 'node:fs';
import { call, startApp, type TestApp } from './support/app.js';

/**
 * GET /docs and GET /docs-json: the OpenAPI document describes exactly the routes the SPEC names and
 * the app serves, with their bodies, success statuses, error shape and security, so the document and
 * the code cannot drift apart.
 */
type Method = 'get' | 'post' | 'patch' | 'delete';
type Security = 'apiKey' | 'bearer' | 'optional-bearer' | 'none';

interface SpecRoute {
  method: Method;
  path: string;
  success: number;
  /** Fields of the JSON body as the SPEC lists them, and which of them are required. */
  body?: { fields: string[]; required: string[]; optional?: true };
  /** Fields of the success body as the SPEC lists them (of each item, when the body is a list). */
  returns?: string[];
  /** The success body is a JSON array of `returns`. */
  list?: true;
  /** The fields of the other body the success may be instead (a `oneOf` of the two). */
  orReturns?: string[];
  errors: number[];
  security: Security;
}

const VERIFICATION = ['id', 'status', 'channel', 'to', 'purpose', 'expiresAt', 'attemptsRemaining', 'sendsRemaining', 'delivery'];
const CHALLENGE = ['challengeId', 'channel', 'to', 'expiresAt'];
const TOKEN_PAIR = ['accessToken', 'refreshToken', 'tokenType', 'expiresIn', 'user'];
const USER = ['id', 'email', 'phone', 'emailVerified', 'phoneVerified', 'otpChannel', 'createdAt'];

/** Every route of the product's HTTP API contract, as written there (GET /docs aside: it serves this document). */
const SPEC_ROUTES: SpecRoute[] = [
  {
    method: 'post',
    path: '/v1/verifications',
    success: 201,
    body: { fields: ['channel', 'to', 'purpose', 'locale', 'clientIp'], required: ['channel', 'to'] },
    returns: [...VERIFICATION, 'resendAvailableAt'],
    errors: [400, 401, 413, 429, 503],
    security: 'apiKey',
  },
  {
    method: 'post',
    path: '/v1/verifications/check',
    success: 200,
    body: { fields: ['code', 'id', 'to', 'purpose', 'clientIp'], required: ['code'] },
    returns: ['id', 'status'],
    errors: [400, 401, 404, 413, 422, 429, 503],
    security: 'apiKey',
  },
  {
    method: 'get',
    path: '/v1/verifications/{id}',
    success: 200,
    returns: [...VERIFICATION, 'createdAt'],
    errors: [401, 404, 429, 503],
    security: 'apiKey',
  },
  {
    method: 'post',
    path: '/v1/verifications/{id}/cancel',
    success: 200,
    returns: ['id', 'status'],
    errors: [401, 404, 429, 503],
    security: 'apiKey',
  },
  { method: 'delete', path: '/v1/admin/rate-limits/{destination}', success: 204, errors: [401], security: 'apiKey' },
  { method: 'get', path: '/v1/admin/fraud', success: 200, returns: ['suspensions', 'countries'], errors: [401], security: 'apiKey' },
  { method: 'delete', path: '/v1/admin/fraud/suspensions/{country}', success: 204, errors: [400, 401], security: 'apiKey' },
  { method: 'get', path: '/v1/admin/webhooks/failures', success: 200, returns: ['failures'], errors: [401], security: 'apiKey' },
  {
    method: 'post',
    path: '/v1/auth/register',
    success: 201,
    body: { fields: ['email', 'phone', 'password', 'otpChannel'], required: ['password'] },
    returns: ['userId', ...CHALLENGE],
    errors: [400, 409, 413, 429, 503],
    security: 'none',
  },
  {
    method: 'post',
    path: '/v1/auth/login',
    success: 200,
    body: { fields: ['identifier', 'password', 'channel'], required: ['identifier', 'password'] },
    returns: CHALLENGE,
    errors: [400, 401, 413, 429],
    security: 'none',
  },
  {
    method: 'post',
    path: '/v1/auth/otp/start',
    success: 202,
    body: { fields: ['identifier', 'purpose', 'channel'], required: ['identifier', 'purpose'] },
    returns: ['challengeId', 'channel', 'expiresAt'],
    errors: [400, 413, 429],
    security: 'none',
  },
  {
    method: 'post',
    path: '/v1/auth/otp/verify',
    success: 200,
    // `code`, or `recoveryCode` for a challenge answered from an authenticator app.
    body: { fields: ['challengeId', 'code', 'recoveryCode', 'newPassword'], required: ['challengeId'] },
    returns: TOKEN_PAIR,
    // The app's login challenge, after a password reset of an account with the app on.
    orReturns: CHALLENGE,
    errors: [400, 404, 413, 422, 429],
    security: 'optional-bearer',
  },
  {
    method: 'post',
    path: '/v1/auth/otp/resend',
    success: 202,
    body: { fields: ['challengeId'], required: ['challengeId'] },
    returns: ['challengeId', 'expiresAt', 'resendAvailableAt'],
    errors: [400, 404, 413, 429],
    security: 'none',
  },
  {
    method: 'get',
    path: '/v1/auth/otp/{challengeId}',
    success: 200,
    returns: ['challengeId', 'channel', 'to', 'expiresAt', 'resendAvailableAt', 'delivery'],
    errors: [404, 429],
    security: 'none',
  },
  {
    method: 'post',
    path: '/v1/auth/token/refresh',
    success: 200,
    body: { fields: ['refreshToken'], required: ['refreshToken'] },
    returns: TOKEN_PAIR,
    errors: [400, 401, 413],
    security: 'none',
  },
  {
    method: 'post',
    path: '/v1/auth/logout',
    success: 204,
    body: { fields: ['refreshToken'], required: [], optional: true },
    errors: [401],
    security: 'bearer',
  },
  { method: 'get', path: '/v1/auth/me', success: 200, returns: USER, errors: [401], security: 'bearer' },
  {
    method: 'patch',
    path: '/v1/auth/me',
    success: 200,
    body: { fields: ['otpChannel'], required: [] },
    returns: USER,
    errors: [400, 401],
    security: 'bearer',
  },
  {
    method: 'delete',
    path: '/v1/auth/me',
    success: 204,
    body: { fields: ['password'], required: ['password'] },
    errors: [400, 401, 429],
    security: 'bearer',
  },
  {
    method: 'get',
    path: '/v1/auth/sessions',
    success: 200,
    returns: ['id', 'createdAt', 'lastUsedAt', 'userAgent', 'ip', 'current'],
    list: true,
    errors: [401],
    security: 'bearer',
  },
  { method: 'delete', path: '/v1/auth/sessions/{id}', success: 204, errors: [401, 404], security: 'bearer' },
  {
    method: 'post',
    path: '/v1/auth/totp/enroll',
    success: 200,
    body: { fields: ['password'], required: ['password'] },
    returns: ['secret', 'otpauthUri', 'qrSvg'],
    errors: [400, 401, 409, 429],
    security: 'bearer',
  },
  {
    method: 'post',
    path: '/v1/auth/totp/confirm',
    success: 200,
    body: { fields: ['code'], required: ['code'] },
    returns: ['recoveryCodes'],
    errors: [400, 401, 409, 422, 429],
    security: 'bearer',
  },
  {
    method: 'delete',
    path: '/v1/auth/totp',
    success: 204,
    body: { fields: ['password'], required: ['password'] },
    errors: [400, 401, 429],
    security: 'bearer',
  },
  { method: 'get', path: '/.well-known/jwks.json', success: 200, returns: ['keys'], errors: [], security: 'none' },
  {
    method: 'get',
    path: '/v1/admin/users',
    success: 200,
    returns: [...USER, 'totpEnabled', 'activeSessions'],
    errors: [401, 404],
    security: 'apiKey',
  },
  { method: 'delete', path: '/v1/admin/users/{id}', success: 204, errors: [401, 404], security: 'apiKey' },
  { method: 'post', path: '/v1/admin/users/{id}/sessions/revoke', success: 204, errors: [401, 404], security: 'apiKey' },
  { method: 'get', path: '/health/live', success: 200, returns: ['status'], errors: [], security: 'none' },
  { method: 'get', path: '/health/ready', success: 200, returns: ['status', 'info', 'error', 'details'], errors: [503], security: 'none' },
  { method: 'get', path: '/health/messaging', success: 200, returns: ['channels'], errors: [], security: 'none' },
  {
    method: 'get',
    path: '/health',
    success: 200,
    returns: ['status', 'version', 'commit', 'startedAt', 'uptimeSeconds', 'environment'],
    errors: [],
    security: 'none',
  },
  { method: 'get', path: '/metrics', success: 200, errors: [], security: 'none' },
];

interface Schema {
  $ref?: string;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Operation {
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    {
      description?: string;
      headers?: Record<string, unknown>;
      content?: Record<string, { schema: Schema; examples?: Record<string, { summary?: string; value: ErrorExample }> }>;
    }
  >;
}
interface ErrorExample {
  statusCode: number;
  code: string;
  message: string;
  [field: string]: unknown;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  security?: unknown;
  tags: { name: string }[];
  paths: Record<string, Partial<Record<Method, Operation>>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, string>> };
}

const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;
const TAGS = ['verifications', 'admin', 'auth', 'health', 'metrics'];
/** The published token keys belong to auth, though they live where verifiers look for them. */
const tagOf = (path: string) =>
  path.startsWith('/.well-known/') ? 'auth' : TAGS.find((tag) => path.startsWith(`/v1/${tag}`) || path.startsWith(`/${tag}`));

let service: TestApp;
let document: OpenApiDocument;
beforeAll(async () => {
  service = await startApp({});
  const response = await fetch(`${service.url}/docs-json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('application/json');
  document = (await response.json()) as OpenApiDocument;
});
afterAll(() => service.close());

/** A schema with its `$ref`s followed and an `allOf` merged into one object schema. */
function resolve(schema: Schema): Schema {
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = document.components.schemas[name];
    if (!target) throw new Error(`${schema.$ref} is not in components.schemas`);
    return resolve(target);
  }
  if (schema.allOf) {
    const parts = schema.allOf.map(resolve);
    return {
      type: 'object',
      properties: Object.assign({}, ...parts.map((part) => part.properties ?? {})),
      required: parts.flatMap((part) => part.required ?? []),
    };
  }
  return schema;
}

function operation(route: SpecRoute): Operation {
  const found = document.paths[route.path]?.[route.method];
  if (!found) throw new Error(`${key(route.method, route.path)} is not in the document`);
  return found;
}

/** `METHOD /path/:param` of every route Fastify serves, read from its route tree (HEAD mirrors GET). */
function servedRoutes(): Set<string> {
  const tree: string = service.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
  const served = new Set<string>();
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (.+) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (prefixes[depth - 1] ?? '') + match[2]!;
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD') served.add(key(method, path));
  }
  return served;
}

it('is OpenAPI 3 titled with the package version, with one tag per module', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  expect(document.openapi).toMatch(/^3\./);
  expect(document.info).toMatchObject({ title: pkg.name, version: pkg.version });
  expect(document.tags.map((tag) => tag.name).sort()).toEqual([...TAGS].sort());
});

it('documents exactly the routes of the SPEC, by method and path as served (/v1/... included)', () => {
  const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => key(method, path)));
  expect(documented.sort()).toEqual(SPEC_ROUTES.map((route) => key(route.method, route.path)).sort());
});

it('documents no route the app does not serve, and the app serves no API route it does not document', () => {
  const fastify = service.app.getHttpAdapter().getInstance();
  const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => ({ method: method.toUpperCase(), url: path.replace(/\{(\w+)\}/g, ':$1') })),
  );
  for (const route of documented) expect({ ...route, served: fastify.hasRoute(route) }).toEqual({ ...route, served: true });

  // The document's own UI and the sign-in pages (/ui/) are pages, not API routes; the vendors' receipt
  // callbacks (/v1/webhooks/) are posted by Twilio, SendGrid and SNS in their own formats, never by a client.
  const served = [...servedRoutes()].filter(
    (route) => !/^GET \/(docs(\/|-json|$)|ui(\/|\*|$))/.test(route) && !/^POST \/v1\/webhooks\//.test(route),
  );
  expect(served.length).toBeGreaterThanOrEqual(SPEC_ROUTES.length);
  expect(served.sort()).toEqual(documented.map((route) => key(route.method, route.url)).sort());
});

describe.each(SPEC_ROUTES)('$method $path', (route) => {
  it('has its tag, its request body schema and its success response', () => {
    const op = operation(route);
    expect(op.tags).toEqual([tagOf(route.path)]);

    if (route.body) {
      expect(op.requestBody).toBeDefined();
      expect(op.requestBody!.required ?? false).toBe(!route.body.optional);
      const body = resolve(op.requestBody!.content['application/json']!.schema);
      expect(body.type).toBe('object');
      expect(Object.keys(body.properties ?? {})).toEqual(expect.arrayContaining(route.body.fields));
      expect((body.required ?? []).sort()).toEqual([...route.body.required].sort());
    } else {
      expect(op.requestBody).toBeUndefined();
    }

    const successes = Object.keys(op.responses).filter((status) => status.startsWith('2'));
    expect(successes).toContain(String(route.success));
    const success = op.responses[String(route.success)]!;
    if (route.success === 204) {
      expect(success.content).toBeUndefined();
    } else if (route.orReturns) {
      const schema = success.content!['application/json']!.schema;
      const [one, other] = (schema.oneOf ?? []).map(resolve);
      expect(Object.keys(one?.properties ?? {})).toEqual(expect.arrayContaining(route.returns!));
      expect(Object.keys(other?.properties ?? {})).toEqual(expect.arrayContaining(route.orReturns));
    } else if (route.returns) {
      const schema = resolve(success.content!['application/json']!.schema);
      if (route.list) expect(schema.type).toBe('array');
      const body = route.list ? resolve(schema.items!) : schema;
      expect(Object.keys(body.properties ?? {})).toEqual(expect.arrayContaining(route.returns));
    } else {
      expect(Object.keys(success.content ?? {})).toEqual(['text/plain']);
    }
  });

  it('lists its error responses with the shared error shape', () => {
    const op = operation(route);
    const errors = Object.keys(op.responses)
      .filter((status) => Number(status) >= 400)
      .map(Number);
    expect(errors).toEqual(expect.arrayContaining(route.errors));
    for (const status of errors) {
      const body = resolve(op.responses[String(status)]!.content!['application/json']!.schema);
      expect({ status, fields: Object.keys(body.properties ?? {}) }).toEqual({
        status,
        fields: expect.arrayContaining(['statusCode', 'code', 'message']),
      });
      expect(body.required).toEqual(expect.arrayContaining(['statusCode', 'code', 'message']));
      if (status === 429) expect(op.responses['429']!.headers).toHaveProperty('Retry-After');
    }
  });

  it('names the security it needs', () => {
    const { security } = operation(route);
    switch (route.security) {
      case 'apiKey':
        return expect(security).toEqual([{ apiKey: [] }]);
      case 'bearer':
        return expect(security).toEqual([{ bearer: [] }]);
      case 'optional-bearer':
        return expect(security).toEqual(expect.arrayContaining([{ bearer: [] }, {}]));
      case 'none':
        return expect(security).toBeUndefined();
    }
  });
});

it('has one error schema, in the shape the SPEC gives', () => {
  const error = document.components.schemas.ErrorResponse!;
  expect(error.required?.sort()).toEqual(['code', 'message', 'statusCode']);
  expect(Object.keys(error.properties ?? {})).toEqual(expect.arrayContaining(['retryAfter', 'errors', 'attemptsRemaining', 'errorId']));
});

it('defines the X-Api-Key and Bearer JWT schemes, and requires neither globally', () => {
  expect(document.components.securitySchemes).toEqual({
    apiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }),
    bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
  });
  expect(document.security).toBeUndefined();
});

it('serves the UI at /docs with every asset it loads, each counted under its route pattern only', async () => {
  const page = await fetch(`${service.url}/docs`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toContain('text/html');
  const html = await page.text();
  expect(html).toContain('<div id="swagger-ui"></div>');
  const assets = [...html.matchAll(/(?:src|href)="(\.\/docs\/[^"]+)"/g)].map((match) => new URL(match[1]!, `${service.url}/docs`).pathname);
  expect(assets).toEqual(expect.arrayContaining(['/docs/swagger-ui-bundle.js', '/docs/swagger-ui-init.js', '/docs/swagger-ui.css']));
  for (const asset of assets) {
    const response = await fetch(`${service.url}${asset}`);
    await response.arrayBuffer();
    expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
  }
  // The init script carries the same document the JSON route serves.
  const init = await (await fetch(`${service.url}/docs/swagger-ui-init.js`)).text();
  expect(init).toContain('"/v1/verifications/{id}/cancel"');

  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  expect(metrics).toContain('route="/docs/*"');
  expect(metrics).not.toContain('swagger-ui.css');
});

it('answers a missing asset with the API error shape', async () => {
  const response = await fetch(`${service.url}/docs/no-such-file.js`);
  expect(response.status).toBe(404);
  expect(await response.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
});

describe('error examples', () => {
  /** Every error response of every operation: its status, the codes its description lists, its examples. */
  function errorResponses() {
    return Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).flatMap(([method, op]) =>
        Object.entries(op.responses)
          // The shared error body only: /health/ready's 503 is Terminus's own body.
          .filter(
            ([status, response]) =>
              Number(status) >= 400 && response.content?.['application/json']?.schema.$ref === '#/components/schemas/ErrorResponse',
          )
          .map(([status, response]) => ({
            at: `${method.toUpperCase()} ${path} ${status}`,
            status: Number(status),
            codes: [...(response.description ?? '').matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!),
            examples: response.content?.['application/json']?.examples ?? {},
          })),
      ),
    );
  }

  it('each error status shows one example per code it can carry, with that status, that code and its own message', () => {
    const responses = errorResponses();
    expect(responses.length).toBeGreaterThan(40);
    const messageOf = new Map<string, string>();
    for (const { at, status, codes, examples } of responses) {
      expect({ at, codes: codes.length > 0 }).toEqual({ at, codes: true });
      expect({ at, examples: Object.keys(examples).sort() }).toEqual({ at, examples: [...codes].sort() });
      for (const [code, { value }] of Object.entries(examples)) {
        expect({ at, statusCode: value.statusCode, code: value.code }).toEqual({ at, statusCode: status, code });
        expect(value.message.length).toBeGreaterThan(10);
        // One code, one message wherever it is documented.
        expect({ code, message: value.message }).toEqual({ code, message: messageOf.get(code) ?? value.message });
        messageOf.set(code, value.message);
        if (status === 429 || ['CHANNEL_UNAVAILABLE', 'SERVICE_UNAVAILABLE', 'SERVICE_BUSY'].includes(code))
          expect({ at, code, retryAfter: value.retryAfter }).toEqual({ at, code, retryAfter: expect.any(Number) });
      }
    }
    // Each code tells its own story: no two codes share a message.
    expect(new Set(messageOf.values()).size).toBe(messageOf.size);
    expect(messageOf.size).toBeGreaterThanOrEqual(15);
  });

  it('examples carry the fields their code adds', () => {
    const byCode = new Map(
      errorResponses().flatMap(({ examples }) => Object.entries(examples).map(([code, { value }]) => [code, value] as const)),
    );
    expect(byCode.get('VALIDATION_FAILED')).toMatchObject({ errors: expect.any(Object) });
    expect(byCode.get('OTP_INCORRECT')).toMatchObject({ attemptsRemaining: expect.any(Number) });
    expect(byCode.get('CHANNEL_UNAVAILABLE')).toMatchObject({ channel: expect.any(String) });
    expect(byCode.get('INTERNAL')).toMatchObject({ errorId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it('an example is what the service really answers: a bad body, a wrong key, an unknown verification', async () => {
    const example = (path: string, method: Method, status: number, code: string) =>
      document.paths[path]![method]!.responses[String(status)]!.content!['application/json']!.examples![code]!.value;

    const unauthorized = await call(service.url, 'GET', '/v1/verifications/00000000-0000-4000-8000-000000000000', undefined, {
      'x-api-key': 'not-a-key-of-this-service',
    });
    expect(unauthorized.body).toEqual(example('/v1/verifications/{id}', 'get', 401, 'UNAUTHORIZED'));
    const notFound = await call(service.url, 'GET', '/v1/verifications/00000000-0000-4000-8000-000000000000');
    expect(notFound.body).toEqual(example('/v1/verifications/{id}', 'get', 404, 'VERIFICATION_NOT_FOUND'));
    const tooLarge = await call(service.url, 'POST', '/v1/verifications', { channel: 'email', to: 'x'.repeat(70 * 1024) });
    expect(tooLarge.body).toEqual(example('/v1/verifications', 'post', 413, 'PAYLOAD_TOO_LARGE'));
  });
});

describe('the flow guide in the description', () => {
  it('walks through sign-up: register, the development code in the console provider log line, verify', async () => {
    const description = document.info.description ?? '';
    for (const route of [
      'POST /v1/auth/register',
      'POST /v1/auth/otp/verify',
      'POST /v1/auth/login',
      'POST /v1/auth/otp/start',
      'POST /v1/verifications',
    ]) {
      expect(description).toContain(`\`${route}\``);
    }
    // The log line it quotes has the shape of the one the console provider really writes.
    const quoted = /`(\[email\] code \d+ for \S+ [^`]+)`/.exec(description)?.[1];
    expect(quoted).toBeDefined();
    expect(description).toContain('`ConsoleProvider`');

    const email = 'flow-guide@example.com';
    const since = service.logs.entries.length;
    const registered = await call(service.url, 'POST', '/v1/auth/register', { email, password: 'a long enough password' });
    expect(registered.status).toBe(201);
    const code = await service.logs.nextCodeFor(email, since);
    const line = service.logs.entries.slice(since).find((entry) => entry.context === 'ConsoleProvider')!.message;
    const shape = (text: string) =>
      text.replace(/code \d+ for \S+ /, 'code CODE for ADDRESS ').replace(/expires in \d+ min/, 'expires in N min');
    expect(shape(line)).toBe(shape(quoted!));

    const verified = await call(service.url, 'POST', '/v1/auth/otp/verify', { challengeId: registered.body.challengeId, code });
    expect(verified.status).toBe(200);
    const accessToken = verified.body.accessToken as string;

    // What it says about checking an access token holds for the token just issued.
    const [header, payload] = accessToken
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
    expect(description).toContain(`\`${String(header!.alg)}\``);
    expect(description).toContain(`\`iss\` \`${String(payload!.iss)}\``);
    expect(description).toContain(`\`aud\` \`${String(payload!.aud)}\``);
    expect(description).toContain(`(${((payload!.exp as number) - (payload!.iat as number)) / 60} minutes)`);
    expect(description).toContain('`GET /v1/auth/me`');
    const me = await call(service.url, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${accessToken}` });
    expect(me).toMatchObject({ status: 200, body: { id: payload!.sub, email } });
    expect((await call(service.url, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${accessToken}x` })).status).toBe(401);
  });
});

describe('docs/openapi.json', () => {
  it('is the document the app serves (npm run docs:openapi writes it)', () => {
    const committed = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as OpenApiDocument;
    // `required` lists are sets: their order follows decorator evaluation, which the build and jest's transform do not share.
    const canonical = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(canonical)
        : node !== null && typeof node === 'object'
          ? Object.fromEntries(
              Object.entries(node).map(([key, value]) => [
                key,
                key === 'required' && Array.isArray(value) ? [...value].sort() : canonical(value),
              ]),
            )
          : node;
    expect(canonical(committed)).toEqual(canonical(document));
  });
});
