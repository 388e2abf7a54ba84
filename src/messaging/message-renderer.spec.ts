import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutboundMessage } from './message-provider.js';
import { MessageRenderer, TEMPLATES_DIR, minutesUntil } from './message-renderer.js';

const NOW = Date.now();

function message(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    idempotencyKey: 'ver_1:1',
    verificationId: 'ver_1',
    channel: 'email',
    to: 'user@example.com',
    template: 'otp',
    code: '493027',
    purpose: 'login',
    locale: 'en',
    expiresAt: new Date(NOW + 600_000),
    ...overrides,
  };
}

describe('MessageRenderer', () => {
  const renderer = new MessageRenderer({ webOtpDomain: undefined });
  const withWebOtp = new MessageRenderer({ webOtpDomain: 'example.com' });

  it('ships English and Spanish', () => {
    expect([...renderer.locales].sort()).toEqual(['en', 'es']);
  });

  it('renders an English email whose subject, text and HTML say what the code is for and when it expires', () => {
    const email = renderer.email(message({ purpose: 'password_reset' }));

    expect(email.subject).toBe('Your password reset code');
    expect(email.text).toBe(
      'Your password reset code is 493027\n\nUse it to reset your password. It expires in 10 minutes.\n\n' +
        'If you did not ask for this code, ignore this message. Never share the code with anyone.\n',
    );
    expect(email.html).toContain('<html lang="en">');
    expect(email.html).toMatch(/<p[^>]*>493027<\/p>/);
    expect(email.html).toContain('Use it to reset your password. It expires in 10 minutes.');
  });

  it.each([
    ['verify', 'Your verification code', 'verify your contact details'],
    ['signup', 'Your sign-up code', 'finish creating your account'],
    ['login', 'Your login code', 'sign in'],
    ['password_reset', 'Your password reset code', 'reset your password'],
    ['change_contact', 'Your confirmation code', 'confirm your new contact details'],
    ['something_new', 'Your verification code', 'verify your contact details'],
  ])('names the purpose %s in subject and body', (purpose, subject, action) => {
    const email = renderer.email(message({ purpose }));

    expect(email.subject).toBe(subject);
    expect(email.text).toContain(`Use it to ${action}.`);
  });

  it('does not take a purpose for a key of Object.prototype', () => {
    expect(renderer.email(message({ purpose: 'constructor' })).subject).toBe('Your verification code');
  });

  it('renders Spanish for es and for a regional tag of it', () => {
    for (const locale of ['es', 'es-MX', 'ES_es']) {
      const email = renderer.email(message({ locale, purpose: 'signup' }));
      expect(email.subject).toBe('Tu código de registro');
      expect(email.text).toContain('Úsalo para terminar de crear tu cuenta. Caduca en 10 minutos.');
      expect(email.html).toContain('<html lang="es">');
    }
  });

  it('falls back to English for a language it does not have', () => {
    expect(renderer.resolveLocale('fr-CA')).toBe('en');
    expect(renderer.email(message({ locale: 'fr-CA' })).subject).toBe('Your login code');
    expect(renderer.email(message({ locale: '../../etc' })).subject).toBe('Your login code');
  });

  it('says how many minutes are left, in the singular for one', () => {
    expect(renderer.email(message({ expiresAt: new Date(Date.now() + 300_000) })).text).toContain('It expires in 5 minutes.');
    expect(renderer.text(message({ expiresAt: new Date(Date.now() + 60_000) }))).toContain('it expires in 1 minute.');
    expect(renderer.text(message({ locale: 'es', expiresAt: new Date(Date.now() + 60_000) }))).toContain('caduca en 1 minuto.');
  });

  it('renders an SMS with the code, its purpose and lifetime, without a WebOTP line when no domain is set', () => {
    expect(renderer.text(message())).toBe('493027 is your login code. Use it to sign in; it expires in 10 minutes. Never share it.');
  });

  it('ends the SMS with the WebOTP / SMS Retriever line when a domain is set', () => {
    const lines = withWebOtp.text(message()).split('\n');

    expect(lines[0]).toBe('493027 is your login code. Use it to sign in; it expires in 10 minutes. Never share it.');
    expect(lines.at(-1)).toBe('@example.com #493027');
    expect(
      withWebOtp
        .text(message({ locale: 'es' }))
        .split('\n')
        .at(-1),
    ).toBe('@example.com #493027');
  });

  it('renders the password-changed notice without a code', () => {
    const notice = message({ template: 'password_changed', code: undefined });

    expect(renderer.email(notice).subject).toBe('Your password was changed');
    expect(renderer.email({ ...notice, locale: 'es' }).subject).toBe('Tu contraseña ha cambiado');
    expect(withWebOtp.text(notice)).not.toContain('#');
  });

  it('renders the contact-changed notice with the new contact masked, in English and Spanish', () => {
    const notice = message({
      template: 'contact_changed',
      code: undefined,
      contactChange: { kind: 'email', newContact: 'n***@example.com' },
    });

    expect(renderer.email(notice).subject).toBe('Your email address was changed');
    expect(renderer.email(notice).text).toContain('The email address of your account was just changed to n***@example.com.');
    expect(renderer.email(notice).html).toContain('<strong>n***@example.com</strong>');
    expect(renderer.email({ ...notice, locale: 'es' }).subject).toBe('Tu correo electrónico ha cambiado');
    const phone = { ...notice, channel: 'sms' as const, contactChange: { kind: 'phone' as const, newContact: '+44******0123' } };
    expect(withWebOtp.text(phone)).toBe(
      'The phone number of your account was changed to +44******0123. If it was not you, reset your password now.',
    );
    expect(renderer.text({ ...phone, locale: 'es' })).toContain('El número de teléfono de tu cuenta ha cambiado a +44******0123.');
  });

  it('escapes HTML in the HTML part only', () => {
    const odd = message({ code: '<b>1</b>' });

    expect(renderer.email(odd).html).toContain('&lt;b&gt;1&lt;/b&gt;');
    expect(renderer.email(odd).text).toContain('<b>1</b>');
  });

  describe('a language added as files', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'templates-'));
      cpSync(TEMPLATES_DIR, dir, { recursive: true });
      cpSync(join(dir, 'en'), join(dir, 'fr'), { recursive: true });
      writeFileSync(join(dir, 'fr', 'otp.subject.hbs'), 'Votre code de {{purpose.name}}\n');
      writeFileSync(join(dir, 'fr', 'purposes.json'), JSON.stringify({ verify: { name: 'vérification', action: 'vérifier' } }));
      rmSync(join(dir, 'fr', 'otp.sms.hbs'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('is picked up, and a file it lacks comes from English', () => {
      const french = new MessageRenderer({ webOtpDomain: undefined }, dir);

      expect(french.resolveLocale('fr-FR')).toBe('fr');
      expect(french.email(message({ locale: 'fr', purpose: 'verify' })).subject).toBe('Votre code de vérification');
      expect(french.text(message({ locale: 'fr', purpose: 'verify' }))).toMatch(/^493027 is your vérification code/);
    });
  });
});

describe('minutesUntil', () => {
  it('rounds to whole minutes and never says less than one', () => {
    expect(minutesUntil(new Date(NOW + 599_500), NOW)).toBe(10);
    expect(minutesUntil(new Date(NOW + 150_000), NOW)).toBe(3);
    expect(minutesUntil(new Date(NOW + 10_000), NOW)).toBe(1);
    expect(minutesUntil(new Date(NOW - 10_000), NOW)).toBe(1);
  });
});
