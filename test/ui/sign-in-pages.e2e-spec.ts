import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { MESSAGES } from '../../src/ui/public/messages.js';
import { eventually } from '../support/eventually.js';
import { ServiceProcess } from '../support/service-process.js';
import { SmtpTestServer } from '../support/smtp-test-server.js';
import { totpCode, totpStep } from '../support/totp.js';

/**
 * The pages under /ui/ in a real browser (Debian's Chromium, driven by playwright-core) against the
 * built service (`node dist/main.js`, which serves the compiled scripts), with email going to a real
 * SMTP server and text messages to the console provider's log: codes are read where a person would
 * find them. Screenshots of every page in every language go to artifacts/screenshots/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));
const PAGES = ['index', 'signup', 'signin', 'passwordless', 'reset', 'code'] as const;
const PASSWORD = 'a long enough password';
const RESEND_COOLDOWN_SECONDS = 8;
const BROWSER_TEST_MS = 90_000;

// Run in the page (the tests are type-checked against Node, not the DOM, so as expressions).
interface Markup {
  inlineScripts: number;
  handlers: string[];
  unlabelled: string[];
  liveRegions: number;
}
const MARKUP = `({
  inlineScripts: [...document.scripts].filter((script) => !script.src).length,
  handlers: [...document.querySelectorAll('*')].flatMap((element) => element.getAttributeNames().filter((name) => name.startsWith('on'))),
  unlabelled: [...document.querySelectorAll('input')].filter((input) => input.labels.length === 0).map((input) => input.id),
  liveRegions: document.querySelectorAll('[aria-live]').length,
})`;

/** Waits until the element's text is `expected` (or matches it): the pages answer asynchronously. */
async function showsText(locator: Locator, expected: string | RegExp, timeoutMs = 10_000): Promise<void> {
  await eventually(async () => {
    const actual = (await locator.textContent()) ?? '';
    if (typeof expected === 'string') expect(actual).toBe(expected);
    else expect(actual).toMatch(expected);
  }, timeoutMs);
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `\n${'!'.repeat(100)}\n!! BROWSER TESTS SKIPPED: no Chromium at ${CHROMIUM}. Install it (apt-get install chromium; .ci/run does)` +
      ` or set CHROMIUM_PATH.\n${'!'.repeat(100)}\n`,
  );
}
const describeInChromium = haveChromium ? describe : describe.skip;

describeInChromium('the sign-in pages in Chromium', () => {
  let smtp: SmtpTestServer;
  let service: ServiceProcess;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Content-Security-Policy violations and uncaught script errors of the current test's pages. */
  let problems: string[];
  let sequence = 0;
  const newEmail = () => `ui-${Date.now()}-${++sequence}@example.com`;
  const newPhone = () => `+4479111${String(10_000 + ++sequence).slice(-5)}`;

  beforeAll(async () => {
    smtp = await SmtpTestServer.start();
    service = ServiceProcess.start({
      NODE_ENV: 'test',
      PORT: '0',
      API_KEYS: 'ui-tests-key-0123456789abcdef',
      OTP_CHANNELS: 'email,sms',
      EMAIL_PROVIDERS: 'smtp',
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_FROM: 'OTP Gateway <no-reply@example.com>',
      SMS_PROVIDERS: 'console',
      // One attempt, so a refused message is `failed` at once; a short cooldown, so the countdown ends within a test.
      DELIVERY_ATTEMPTS: '1',
      OTP_RESEND_COOLDOWN_SECONDS: String(RESEND_COOLDOWN_SECONDS),
      RATE_LIMIT_IP_PER_MINUTE: '1000',
    });
    url = await service.listening(60_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    service?.signal('SIGTERM');
    await service?.exited;
    await smtp?.stop();
  });

  async function openContext(locale = 'en-GB'): Promise<void> {
    await context?.close();
    context = await browser.newContext({ locale, baseURL: `${url}/ui/` });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Trusted Type/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  }

  beforeEach(async () => {
    problems = [];
    await openContext();
  });

  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  /** The code in the next email to `to` after the first `after` messages the SMTP server received. */
  async function emailCode(to: string, after: number): Promise<string> {
    let code = '';
    await eventually(async () => {
      const mail = smtp.received.slice(after).find((message) => message.to.includes(to));
      code = /\b(\d{6})\b/.exec(mail?.text ?? '')?.[1] ?? '';
      expect(code).not.toBe('');
    });
    return code;
  }

  /** The code of the console provider's next line for `to`, after the first `after` characters of the service's output. */
  async function loggedCode(to: string, after: number): Promise<string> {
    let code = '';
    await eventually(async () => {
      code = new RegExp(`code (\\d+) for ${to.replace('+', '\\+')} `).exec(service.output.slice(after))?.[1] ?? '';
      expect(code).not.toBe('');
    });
    return code;
  }

  /** What a person does: copy text from a message, then Ctrl+V in the code field. */
  async function paste(text: string): Promise<void> {
    await page.evaluate(`navigator.clipboard.writeText(${JSON.stringify(text)})`);
    await page.focus('#code');
    await page.keyboard.press('ControlOrMeta+V');
  }

  const focused = () => page.evaluate<string>('document.activeElement?.id ?? ""');
  const message = (form: string) => page.locator(`#${form}-message`);

  async function api(path: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${url}/v1/auth/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, ...((await response.json().catch(() => ({}))) as object) };
  }

  /** An account whose email address is verified, made through the API. */
  async function account(): Promise<string> {
    const email = newEmail();
    const before = smtp.received.length;
    const { challengeId } = await api('register', { email, password: PASSWORD });
    expect(await api('otp/verify', { challengeId, code: await emailCode(email, before) })).toMatchObject({ status: 200 });
    return email;
  }

  /** An account whose phone number is verified (codes to an unknown number are never sent). */
  async function phoneAccount(): Promise<string> {
    const phone = newPhone();
    const since = service.output.length;
    const { challengeId } = await api('register', { phone, password: PASSWORD });
    expect(await api('otp/verify', { challengeId, code: await loggedCode(phone, since) })).toMatchObject({ status: 200 });
    return phone;
  }

  /** Passwordless sign-in started on its page for a phone number; the code entry is open. */
  async function codeEntryFor(phone: string): Promise<void> {
    await page.goto('passwordless');
    await page.fill('#identifier', phone);
    await page.click('button[type=submit]');
    await page.waitForURL('**/ui/code');
    await showsText(page.locator('#sent-to'), new RegExp(phone.slice(-4)));
  }

  it(
    'serves every page in English and Spanish under its CSP, scripts from files only, every field labelled; a screenshot of each',
    async () => {
      for (const language of ['en', 'es'] as const) {
        const text = MESSAGES[language];
        for (const name of PAGES) {
          if (name === 'code') await codeEntryFor(newPhone());
          const response = await page.goto(`${name === 'index' ? './' : name}?lang=${language}`);
          expect(response?.status()).toBe(200);
          expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
          await showsText(page.locator('h1'), text[`${name}.title`]);
          expect(await page.title()).toBe(text[`${name}.title`]);
          expect(await page.getAttribute('html', 'lang')).toBe(language);
          const markup = await page.evaluate<Markup>(MARKUP);
          expect(markup).toEqual({
            inlineScripts: 0,
            handlers: [],
            unlabelled: [],
            liveRegions: name === 'index' ? 0 : expect.any(Number),
          });
          if (name !== 'index') expect(markup.liveRegions).toBeGreaterThan(0);
          await page.screenshot({ path: `${SCREENSHOTS}${name}.${language}.png`, fullPage: true });
        }
      }
    },
    BROWSER_TEST_MS,
  );

  it(
    'signs up and signs in end to end, with the codes from the emails pasted whole',
    async () => {
      const email = newEmail();
      let before = smtp.received.length;
      await page.goto('signup');
      await page.fill('#identifier', email);
      await page.fill('#password', PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForURL('**/ui/code');
      await showsText(page.locator('#sent-to'), /We sent a code to u\*+@example\.com by email\./);
      await paste(`Your code is ${await emailCode(email, before)}`);
      await showsText(page.locator('#done-title'), MESSAGES.en['done.signup']);
      await showsText(page.locator('#done-who'), `Signed in as ${email}.`);
      expect(await focused()).toBe('done');
      await page.click('#sign-out');
      await showsText(page.locator('#done-message'), MESSAGES.en['done.signedOut']);

      before = smtp.received.length;
      await page.goto('signin');
      await page.fill('#identifier', email);
      await page.fill('#password', PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForURL('**/ui/code');
      const code = await emailCode(email, before);
      await paste(`${code.slice(0, 3)} ${code.slice(3)}`);
      await showsText(page.locator('#done-title'), MESSAGES.en['done.signin']);
    },
    BROWSER_TEST_MS,
  );

  it(
    'takes "Your code is 123456" and "123 456" as 123456, and says how many attempts a wrong code leaves',
    async () => {
      const phone = await phoneAccount();
      const since = service.output.length;
      await codeEntryFor(phone);
      const code = await loggedCode(phone, since);

      await paste('Your code is 123456');
      await showsText(message('code'), 'That code is not right. 4 attempts left.');
      expect(await page.inputValue('#code')).toBe('123456');
      expect(await page.getAttribute('#code', 'aria-invalid')).toBe('true');
      expect(await focused()).toBe('code');

      await paste('123 456');
      await showsText(message('code'), 'That code is not right. 3 attempts left.');
      expect(await page.inputValue('#code')).toBe('123456');

      await paste(`Your code is ${code}. It expires in 10 minutes.`);
      await showsText(page.locator('#done-title'), MESSAGES.en['done.signin']);
    },
    BROWSER_TEST_MS,
  );

  it(
    'keeps the resend button disabled, counting down, until resendAvailableAt; then it sends a new code',
    async () => {
      const phone = await phoneAccount();
      let since = service.output.length;
      await codeEntryFor(phone);
      const first = await loggedCode(phone, since);
      const challengeId = await page.evaluate<string>('JSON.parse(sessionStorage.getItem("otp-gateway.challenge")).challengeId');
      const status = (await (await fetch(`${url}/v1/auth/otp/${challengeId}`)).json()) as { resendAvailableAt: string };
      const availableAt = Date.parse(status.resendAvailableAt);
      expect(availableAt - Date.now()).toBeGreaterThan(1000);

      const resend = page.locator('#resend');
      const labels = new Set<string>();
      while (Date.now() < availableAt - 250) {
        expect({ disabled: await resend.isDisabled(), early: Date.now() < availableAt }).toEqual({ disabled: true, early: true });
        labels.add((await resend.textContent()) ?? '');
        await page.waitForTimeout(200);
      }
      // Enabled soon after (the page counts by the service's clock, read to the second from the Date header, so
      // never early and at most a second late), however slowly a busy machine runs the page.
      await eventually(async () => expect(await resend.isEnabled()).toBe(true), 5000);
      expect(Date.now()).toBeGreaterThanOrEqual(availableAt);
      await showsText(resend, 'Resend code');
      // It counted down: 0:09 (the Date header is read to the second), 0:08, ... 0:01.
      expect(labels.size).toBeGreaterThanOrEqual(2);
      for (const label of labels) expect(label).toMatch(/^Resend code in 0:0[1-9]$/);

      since = service.output.length;
      await resend.click();
      await showsText(message('code'), MESSAGES.en['code.resent']);
      expect(await resend.isDisabled()).toBe(true);
      await showsText(resend, /^Resend code in 0:0[1-9]$/);
      const second = await loggedCode(phone, since);
      expect(second).not.toBe(first);
      await page.keyboard.type(second);
      await page.keyboard.press('Enter');
      await showsText(page.locator('#done-title'), MESSAGES.en['done.signin']);
    },
    BROWSER_TEST_MS,
  );

  it(
    'works with the keyboard alone: sign in, code, sign out, each step leaving the focus where the next one starts',
    async () => {
      const email = await account();
      const before = smtp.received.length;
      await page.goto('signin');
      expect(await focused()).toBe('identifier');
      await page.keyboard.type(email);
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('password');
      await page.keyboard.type('not the password');
      await page.keyboard.press('Enter');
      await showsText(message('signin'), MESSAGES.en['error.INVALID_CREDENTIALS']);
      expect(await focused()).toBe('identifier');

      await page.keyboard.press('Tab');
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press('Enter');
      await page.waitForURL('**/ui/code');
      expect(await focused()).toBe('code');

      await page.keyboard.type(await emailCode(email, before));
      await page.keyboard.press('Enter');
      await showsText(page.locator('#done-title'), MESSAGES.en['done.signin']);
      expect(await focused()).toBe('done');
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('sign-out');
      await page.keyboard.press('Enter');
      await showsText(page.locator('#done-message'), MESSAGES.en['done.signedOut']);
    },
    BROWSER_TEST_MS,
  );

  it(
    'resets a password: the code entry asks for the new one, and it works at once',
    async () => {
      const email = await account();
      const before = smtp.received.length;
      await page.goto('reset');
      await page.fill('#identifier', email);
      await page.click('button[type=submit]');
      await page.waitForURL('**/ui/code');
      await page.locator('#new-password').waitFor({ state: 'visible' });

      // A pasted code waits for the new password, where the cursor goes.
      await paste(`Your code is ${await emailCode(email, before)}`);
      await eventually(async () => expect(await focused()).toBe('new-password'));
      await page.keyboard.type('a brand new password');
      await page.keyboard.press('Enter');
      await showsText(page.locator('#done-title'), MESSAGES.en['done.reset']);
      expect(await api('login', { identifier: email, password: 'a brand new password' })).toMatchObject({ status: 200 });
    },
    BROWSER_TEST_MS,
  );

  it(
    'resets the password of an account with an authenticator app, then goes on to the code of the app to sign in',
    async () => {
      const email = newEmail();
      let before = smtp.received.length;
      const { challengeId } = await api('register', { email, password: PASSWORD });
      const { accessToken } = await api('otp/verify', { challengeId, code: await emailCode(email, before) });
      const signedIn = async (path: string, body: unknown) => {
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${accessToken as string}` };
        const response = await fetch(`${url}/v1/auth/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
        return (await response.json()) as Record<string, unknown>;
      };
      const secret = (await signedIn('totp/enroll', { password: PASSWORD })).secret as string;
      const step = totpStep();
      expect(await signedIn('totp/confirm', { code: totpCode(secret, step) })).toHaveProperty('recoveryCodes');

      before = smtp.received.length;
      await page.goto('reset');
      await page.fill('#identifier', email);
      await page.click('button[type=submit]');
      await page.waitForURL('**/ui/code');
      await page.fill('#new-password', 'a brand new password');
      await paste(await emailCode(email, before));
      await showsText(message('code'), MESSAGES.en['code.passwordChanged']);
      await showsText(page.locator('#sent-to'), MESSAGES.en['code.fromApp']);
      expect(await page.isHidden('#new-password')).toBe(true);

      await paste(totpCode(secret, step + 1));
      await showsText(page.locator('#done-title'), MESSAGES.en['done.signin']);
    },
    BROWSER_TEST_MS,
  );

  it(
    'speaks Spanish to a browser that asks for it, wrong codes included',
    async () => {
      await openContext('es-ES');
      await page.goto('signin');
      await showsText(page.locator('h1'), 'Iniciar sesión');
      expect(await page.getAttribute('html', 'lang')).toBe('es');
      await codeEntryFor(newPhone());
      await showsText(page.locator('#sent-to'), new RegExp('por SMS'));
      await paste('Tu código es 123 456');
      await showsText(message('code'), 'Ese código no es correcto. Te quedan 4 intentos.');
    },
    BROWSER_TEST_MS,
  );

  // Last: it opens nothing, but the refused message counts toward the SMTP provider's circuit.
  it(
    'says "not delivered — try another channel" when the code could not be delivered, with a way to use another address',
    async () => {
      smtp.failAlways({ stage: 'rcpt', code: 550, message: '5.1.1 Recipient address rejected' });
      try {
        await page.goto('signup');
        await page.fill('#identifier', newEmail());
        await page.fill('#password', PASSWORD);
        await page.click('button[type=submit]');
        await page.waitForURL('**/ui/code');
        const notice = page.locator('#not-delivered');
        await notice.waitFor({ state: 'visible', timeout: 10_000 });
        await showsText(
          page.locator('#not-delivered-text'),
          'Not delivered — try another channel. The code could not be delivered by email.',
        );
        expect(await notice.getAttribute('role')).toBe('alert');
        await page.click('#try-another');
        await page.waitForURL('**/ui/signup');
      } finally {
        smtp.reset();
      }
    },
    BROWSER_TEST_MS,
  );
});
