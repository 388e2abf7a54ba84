import type { NestFastifyApplication } from '@nestjs/platform-fastify';
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
 * listening on a free loopback port.
 */
export async function startApp(env: Record<string, string | undefined>): Promise<TestApp> {
  const loaded = loadConfiguration({ NODE_ENV: 'test', SHUTDOWN_DRAIN_MS: '0', ...env, PORT: '0', HOST: '127.0.0.1' });
  const app = await createApp(loaded.configuration, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();
  return { app, url, loaded, close: () => app.close() };
}
