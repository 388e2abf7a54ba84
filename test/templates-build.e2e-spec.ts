import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/messaging/templates/', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/messaging/templates/', import.meta.url));
const RENDERER = new URL('../dist/messaging/message-renderer.js', import.meta.url).href;

const listing = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();

describe('message templates in the build (run `npm run build` first; `npm test` does)', () => {
  it('are all copied into dist', () => {
    expect(listing(DIST)).toEqual(listing(SRC));
  });

  it('are found by the built renderer when it runs under plain node', () => {
    const script = `
      const { MessageRenderer } = await import(${JSON.stringify(RENDERER)});
      const renderer = new MessageRenderer({ webOtpDomain: 'example.com' });
      const message = { template: 'otp', code: '493027', purpose: 'login', locale: 'es', expiresAt: new Date(Date.now() + 600000) };
      process.stdout.write(JSON.stringify({ subject: renderer.email(message).subject, sms: renderer.text(message) }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });

    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      subject: 'Tu código de inicio de sesión',
      sms: '493027 es tu código de inicio de sesión. Úsalo para iniciar sesión; caduca en 10 minutos. No lo compartas.\n\n@example.com #493027',
    });
  });
});
