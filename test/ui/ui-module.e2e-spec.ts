import { startApp, type TestApp } from '../support/app.js';

/** What serves the pages, without a browser: which pages, their headers, and UI_ENABLED. */

describe('with UI_ENABLED unset in test mode', () => {
  let service: TestApp;
  beforeAll(async () => {
    service = await startApp({});
  });
  afterAll(() => service.close());

  it.each(['', 'signup', 'signin', 'passwordless', 'reset', 'code', 'signin.html'])(
    'serves /ui/%s as HTML under a CSP that allows no inline script',
    async (page) => {
      const response = await fetch(`${service.url}/ui/${page}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      const policy = response.headers.get('content-security-policy') ?? '';
      expect(policy.split('; ')).toEqual(
        expect.arrayContaining(["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]),
      );
      expect(policy).not.toContain('unsafe-inline');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await response.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\son[a-z]+=/i);
    },
  );

  it('sends /ui to /ui/', async () => {
    const response = await fetch(`${service.url}/ui`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/ui/');
  });

  it('serves none of the sources beside the pages: only HTML, CSS and scripts', async () => {
    for (const path of ['code.ts', 'code.js.map', '../ui.module.ts', '%2e%2e/tsconfig.json', 'nothing-here']) {
      const response = await fetch(`${service.url}/ui/${path}`);
      expect({ path, refused: [403, 404].includes(response.status) }).toEqual({ path, refused: true });
      expect(await response.json()).toMatchObject({ statusCode: response.status, code: expect.any(String) });
    }
  });

  it('keeps the pages out of the OpenAPI document', async () => {
    const document = (await (await fetch(`${service.url}/docs-json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/ui'))).toEqual([]);
  });
});

it('serves no page with UI_ENABLED=false', async () => {
  const service = await startApp({ UI_ENABLED: 'false' });
  try {
    for (const path of ['/ui', '/ui/', '/ui/signin'])
      expect({ path, status: (await fetch(`${service.url}${path}`)).status }).toEqual({ path, status: 404 });
  } finally {
    await service.close();
  }
});
