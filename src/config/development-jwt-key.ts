import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoadedConfiguration } from './configuration.types.js';
import { ecPrivateKeyPem } from './variable-formats.js';

/**
 * Development without JWT_PRIVATE_KEY: the signing key kept in `auth.developmentJwtKeyFile`, written (mode
 * 0600) on the first start from the key made for that run and read back on every later one, so access
 * tokens and the published key survive a restart. Returns why not when the file can be neither read nor
 * written (the key made for this run is used then).
 */
export function provideDevelopmentJwtKey(loaded: LoadedConfiguration): { created: boolean } | { error: string } | undefined {
  const { auth } = loaded.configuration;
  const file = auth.developmentJwtKeyFile;
  if (file === undefined || auth.jwtPrivateKey === undefined) return undefined;
  const kept = readKey(file);
  if (kept !== undefined) {
    auth.jwtPrivateKey = kept;
    return { created: false };
  }
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, auth.jwtPrivateKey, { mode: 0o600 });
    // The mode given to writeFileSync applies only when the file is created.
    chmodSync(file, 0o600);
  } catch (error) {
    return { error: `${file} could not be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  return { created: true };
}

/** The key in the file, or undefined when there is none or it is not a P-256 private key (it is then replaced). */
function readKey(file: string): string | undefined {
  try {
    const content = readFileSync(file, 'utf8');
    return ecPrivateKeyPem.problem(content) === undefined ? content : undefined;
  } catch {
    return undefined;
  }
}
