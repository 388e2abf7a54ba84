// npm run docs:openapi — writes docs/openapi.json, the OpenAPI document the service serves at
// /docs-json, so that the contract a client reads is in the repository too. It starts the built
// application (test mode: in-memory stores, nothing delivered) on a free loopback port, reads the
// document over HTTP exactly as a client would, and stops it. test/openapi.e2e-spec.ts fails when
// the committed copy differs from what the application serves.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from '../dist/app.factory.js';
import { loadConfiguration } from '../dist/config/load-configuration.js';
import { createLogger, PinoNestLogger } from '../dist/logging/logger.js';
import { secretValues } from '../dist/logging/redaction.js';

const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));

const loaded = loadConfiguration({
  NODE_ENV: 'test',
  API_KEYS: 'openapi-document-key-0000',
  SHUTDOWN_DRAIN_MS: '0',
  PORT: '0',
  HOST: '127.0.0.1',
});
const logger = new PinoNestLogger(
  createLogger({ format: 'json', level: 'warn', secrets: secretValues(loaded), destination: process.stderr }),
);
const app = await createApp(loaded.configuration, { logger });
try {
  await app.listen(0, '127.0.0.1');
  const response = await fetch(`${await app.getUrl()}/docs-json`);
  if (!response.ok) throw new Error(`GET /docs-json answered ${response.status}`);
  writeFileSync(target, `${JSON.stringify(await response.json(), null, 2)}\n`);
  console.log(`wrote ${target}`);
} finally {
  await app.close();
}
