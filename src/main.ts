import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { loadConfiguration } from './config/load-configuration.js';
import { buildStartupReport } from './config/startup-report.js';

async function bootstrap(): Promise<void> {
  const loaded = loadConfiguration(process.env);
  const { configuration, problems, notices } = loaded;
  const production = configuration.app.env === 'production';
  Logger.overrideLogger(new ConsoleLogger({ json: production, colors: !production && process.stdout.isTTY === true }));
  const logger = new Logger('Startup');

  if (production && problems.length > 0) {
    for (const problem of problems) logger.error(problem.message);
    logger.error(`Refusing to start in production: ${problems.length} configuration problem${problems.length > 1 ? 's' : ''} (listed above)`);
    process.exitCode = 1;
    return;
  }

  for (const line of buildStartupReport(loaded)) logger.log(line);
  for (const warning of new Set(problems.map((problem) => problem.warning))) logger.warn(warning);
  for (const notice of notices) logger.warn(notice);

  const app = await createApp(configuration, { logger: new ConsoleLogger({ json: production, colors: !production && process.stdout.isTTY === true }) });
  // useProcessExit: exit 0 after a clean shutdown (the default re-raises the signal, which exits 143).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.listen(configuration.app.port, configuration.app.host);
  logger.log(`Listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  new Logger('Startup').error(`Start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
