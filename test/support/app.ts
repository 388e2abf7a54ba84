import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.factory.js';
import { loadConfiguration } from '../../src/config/load-configuration.js';
import type { LoadedConfiguration } from '../../src/config/configuration.types.js';
import { createLogger, PinoNestLogger } from '../../src/logging/logger.js';
import { secretValues } from '../../src/logging/redaction.js';
import { CapturedLogs } from './captured-logs.js';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  loaded: LoadedConfiguration;
  logs: CapturedLogs;
  close(): Promise<void>;
}

export const TEST_API_KEY = 'test-api-key-0123456789abcdef';
/** Of ADMIN_API_KEYS: the only kind `/v1/admin` accepts. */
export const TEST_ADMIN_API_KEY = 'test-admin-key-0123456789abcdef';
export const ADMIN = { 'x-api-key': TEST_ADMIN_API_KEY };

/**
 * The real application, configured from the given environment alone (never this process's own),
 * listening on a free loopback port, with its log captured (JSON lines, redacted as in production). An embedded database on disk
 * (development mode) goes to a directory of its own, so apps in parallel test files never open the
 * same PGlite files.
 */
export async function startApp(env: Record<string, string | undefined>): Promise<TestApp> {
  const loaded = loadConfiguration({ NODE_ENV: 'test', SHUTDOWN_DRAIN_MS: '0', API_KEYS: TEST_API_KEY, ADMIN_API_KEYS: TEST_ADMIN_API_KEY, ...env, PORT: '0', HOST: '127.0.0.1' });
  const scratch = loaded.configuration.database.embeddedDir ? mkdtempSync(join(tmpdir(), 'otp-gateway-app-')) : undefined;
  if (scratch) loaded.configuration.database.embeddedDir = join(scratch, 'pglite');
  const removeScratch = () => scratch && rmSync(scratch, { recursive: true, force: true });
  const logs = new CapturedLogs();
  // The production logger and its redaction, writing JSON lines to the capture instead of stdout.
  const logger = new PinoNestLogger(createLogger({ format: 'json', secrets: secretValues(loaded), level: 'debug', destination: logs }));
  let app: NestFastifyApplication;
  try {
    app = await createApp(loaded.configuration, { logger });
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
    logs,
    close: async () => {
      await app.close();
      removeScratch();
    },
  };
}

/** JSON over HTTP with the test API key, returning status, headers and parsed body. */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'x-api-key': TEST_API_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
