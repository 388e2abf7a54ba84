import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { LoadedConfiguration } from './configuration.types.js';
import { parseApiKeyEntry } from './variable-formats.js';

export const DEVELOPMENT_API_KEY_NAME = 'development';

/**
 * Development without API_KEYS: the key kept in `auth.developmentKeyFile`, made (mode 0600) on the
 * first start and read back on every later one, so a newcomer's curl keeps working across restarts.
 * Adds it to the accepted keys; returns why not when the file can be neither read nor written (the
 * Verifications API then answers 401, as without any key).
 */
export function provideDevelopmentApiKey(loaded: LoadedConfiguration): { created: boolean } | { error: string } | undefined {
  const { auth } = loaded.configuration;
  const file = auth.developmentKeyFile;
  if (file === undefined) return undefined;
  let key = readKey(file);
  const created = key === undefined;
  if (key === undefined) {
    key = randomBytes(24).toString('base64url');
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${key}\n`, { mode: 0o600 });
      // The mode given to writeFileSync applies only when the file is created.
      chmodSync(file, 0o600);
    } catch (error) {
      return { error: `${file} could not be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
  }
  auth.apiKeys.push({ name: DEVELOPMENT_API_KEY_NAME, key, scope: 'application', generated: true });
  return { created };
}

/** The key in the file, or undefined when there is none or it is not a usable key (it is then replaced). */
function readKey(file: string): string | undefined {
  try {
    const content = readFileSync(file, 'utf8').trim();
    const parsed = parseApiKeyEntry(content);
    return parsed !== undefined && parsed.name === undefined ? parsed.key : undefined;
  } catch {
    return undefined;
  }
}
