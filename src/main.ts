import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.factory.js';
import { loadConfiguration } from './config/load-configuration.js';
import { provideDevelopmentApiKey } from './config/development-api-key.js';
import { provideDevelopmentJwtKey } from './config/development-jwt-key.js';
import { buildStartupReport, type ProbeResults } from './config/startup-report.js';
import { createLogger, PinoNestLogger, stdoutWritten } from './logging/logger.js';
import { secretValues } from './logging/redaction.js';
import { ProviderHealthService } from './messaging/provider-health.service.js';

/**
 * How long a process that has shut down waits for standard output to take its last lines before it exits: within
 * Kubernetes' grace period (30 s in deploy/kubernetes) after the drain, the requests' and the deliveries' ends.
 */
const LOG_WRITE_LIMIT_MS = 3000;

/** Until the configuration is loaded: the environment's secrets alone, in the format NODE_ENV asks for. */
let nestLogger = new PinoNestLogger(
  createLogger({ format: process.env.NODE_ENV === 'production' ? 'json' : 'pretty', secrets: secretValues({ variables: process.env }) }),
);
Logger.overrideLogger(nestLogger);
// Node prints process warnings (deprecations, SDK notices) straight to stderr; in production every
// line must be JSON, so they go through the logger instead.
for (const listener of process.listeners('warning')) if (listener.name === 'onWarning') process.off('warning', listener);
process.on('warning', (warning) => new Logger('Process').warn(`${warning.name}: ${warning.message}`));

async function bootstrap(): Promise<void> {
  const loaded = loadConfiguration(process.env);
  const { configuration, problems, notices } = loaded;
  const developmentKey = provideDevelopmentApiKey(loaded);
  const developmentJwtKey = provideDevelopmentJwtKey(loaded);
  const production = configuration.app.env === 'production';
  // Before anything else logs: the start-up report and configuration problems go through the same
  // redacting logger as the requests that follow, which also knows the secrets generated for this run.
  nestLogger = new PinoNestLogger(createLogger({ format: production ? 'json' : 'pretty', secrets: secretValues(loaded) }));
  Logger.overrideLogger(nestLogger);
  const logger = new Logger('Startup');

  if (production && problems.length > 0) {
    for (const problem of problems) logger.error(problem.message);
    logger.error(
      `Refusing to start in production: ${problems.length} configuration problem${problems.length > 1 ? 's' : ''} (listed above)`,
    );
    process.exitCode = 1;
    return;
  }

  const report = (probes?: ProbeResults) => {
    for (const line of buildStartupReport(loaded, probes)) logger.log(line);
    for (const warning of new Set(problems.map((problem) => problem.warning))) logger.warn(warning);
    for (const notice of notices) logger.warn(notice);
    if (developmentKey && 'error' in developmentKey) {
      logger.warn(`API_KEYS is not set and the development key in ${developmentKey.error}: /v1/verifications answers 401 to every request`);
    }
    if (developmentJwtKey && 'error' in developmentJwtKey) {
      logger.warn(
        `JWT_PRIVATE_KEY is not set and the development key in ${developmentJwtKey.error}: access tokens stop working when ` +
          `the process restarts`,
      );
    }
  };

  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    app = await createApp(configuration, { logger: nestLogger });
  } catch (error) {
    // The configuration is worth reading most when the start fails.
    report();
    throw error;
  }
  // "configured" is not "working": each provider is probed once (nothing is sent), in parallel and bounded.
  report(await app.get(ProviderHealthService).probeAll());

  const lifecycle = new Logger('Lifecycle');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () =>
      lifecycle.log(
        `${signal} received: shutting down; readiness answers 503 while requests drain for ${configuration.app.shutdownDrainMs} ms`,
      ),
    );
  }
  // Before the logger's own exit handler, which writes what is still buffered.
  process.prependOnceListener('exit', (code) => lifecycle.log(`exiting with code ${code}`));
  // Nest's own signal handling (enableShutdownHooks) exits the moment the application is closed. With standard output
  // backed up then (a slow log collector), the lines of the shutdown and of the requests it drained are still queued,
  // and pino's exit handler writes them around a chunk whose write is in flight, which lands out of order or is lost.
  // So the process exits once standard output has taken them, or after LOG_WRITE_LIMIT_MS: 0 after a clean shutdown.
  let shuttingDown = false;
  const shutDown = () => {
    // Another signal while shutting down (a second Ctrl+C, a SIGTERM after a SIGINT) changes nothing, as with Nest's.
    if (shuttingDown) return;
    shuttingDown = true;
    void app
      .close()
      .then(
        () => 0,
        (error: unknown) => {
          lifecycle.error(
            `Shutdown failed: ${error instanceof Error ? error.message : String(error)}`,
            error instanceof Error ? error.stack : undefined,
          );
          return 1;
        },
      )
      .then(async (code) => {
        await stdoutWritten(LOG_WRITE_LIMIT_MS);
        process.exit(code);
      });
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, shutDown);
  await app.listen(configuration.app.port, configuration.app.host);
  logger.log(`Listening on ${listeningOn(app.getHttpServer().address())}`);
}

/** The address actually bound, not a loopback URL standing for it: 0.0.0.0 is reachable from the network. */
function listeningOn(address: AddressInfo | string | null): string {
  if (address === null || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const reach = ['0.0.0.0', '::'].includes(address.address)
    ? 'every network interface'
    : ['127.0.0.1', '::1'].includes(address.address)
      ? 'this machine only'
      : 'this address only';
  return `http://${host}:${address.port} (${reach})`;
}

bootstrap().catch((error: unknown) => {
  new Logger('Startup').error(`Start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
