import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.factory.js';
import { loadConfiguration } from '../../src/config/load-configuration.js';
import type { LoadedConfiguration } from '../../src/config/configuration.types.js';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  loaded: LoadedConfiguration;
  close(): Promise<void>;
}

/**
 * The real application, configured from the given environment alone (never this process's own),
 * listening on a free loopback port. An embedded database on disk (development mode) goes to a
 * directory of its own, so apps in parallel test files never open the same PGlite files.
 */
export async function startApp(env: Record<string, string | undefined>): Promise<TestApp> {
  const loaded = loadConfiguration({ NODE_ENV: 'test', SHUTDOWN_DRAIN_MS: '0', ...env, PORT: '0', HOST: '127.0.0.1' });
  const scratch = loaded.configuration.database.embeddedDir ? mkdtempSync(join(tmpdir(), 'otp-gateway-app-')) : undefined;
  if (scratch) loaded.configuration.database.embeddedDir = join(scratch, 'pglite');
  const removeScratch = () => scratch && rmSync(scratch, { recursive: true, force: true });
  let app: NestFastifyApplication;
  try {
    app = await createApp(loaded.configuration, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    removeScratch();
    throw error;
  }
  const url = await app.getUrl();
  return {
    app,
    url,
    loaded,
    close: async () => {
      await app.close();
      removeScratch();
    },
  };
}
