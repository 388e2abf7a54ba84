import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provideDevelopmentApiKey } from './development-api-key.js';
import { loadConfiguration } from './load-configuration.js';

describe('the development API key', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'otp-gateway-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const loadedWith = (file: string) => {
    const loaded = loadConfiguration({});
    loaded.configuration.auth.developmentKeyFile = file;
    return loaded;
  };
  const generated = (loaded: ReturnType<typeof loadedWith>) => loaded.configuration.auth.apiKeys.filter((key) => key.generated);

  it('is made once, readable by its owner only, and read back afterwards', () => {
    const file = join(dir, '.data', 'api-key');
    const first = loadedWith(file);
    expect(provideDevelopmentApiKey(first)).toEqual({ created: true });
    const [key] = generated(first);
    expect(key).toMatchObject({ name: 'development', scope: 'application', generated: true });
    expect(key!.key.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(file, 'utf8').trim()).toBe(key!.key);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const second = loadedWith(file);
    expect(provideDevelopmentApiKey(second)).toEqual({ created: false });
    expect(generated(second)[0]!.key).toBe(key!.key);
  });

  it('replaces a file that holds no usable key', () => {
    const file = join(dir, 'api-key');
    writeFileSync(file, 'short\n', { mode: 0o644 });
    const loaded = loadedWith(file);
    expect(provideDevelopmentApiKey(loaded)).toEqual({ created: true });
    expect(readFileSync(file, 'utf8').trim()).toBe(generated(loaded)[0]!.key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('says why when the key cannot be kept, and accepts no key then', () => {
    // A file where the directory should be: refused for root too.
    const blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, '');
    const loaded = loadedWith(join(blocker, 'api-key'));
    expect(provideDevelopmentApiKey(loaded)).toEqual({
      error: expect.stringMatching(/^.*not-a-directory\/api-key could not be written \(E[A-Z]+\)$/),
    });
    expect(generated(loaded)).toEqual([]);
  });

  it('does nothing when API_KEYS is set or outside development', () => {
    for (const env of [{ API_KEYS: 'k'.repeat(20) }, { NODE_ENV: 'test' }]) {
      const loaded = loadConfiguration(env);
      expect(provideDevelopmentApiKey(loaded)).toBeUndefined();
      expect(loaded.configuration.auth.apiKeys.some((key) => key.generated)).toBe(false);
    }
  });
});
