import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { databaseConfig } from '../config/config.namespaces.js';
import type { DatabaseConfig } from '../config/configuration.types.js';
import { maskUrl } from '../config/startup-report.js';
import { type DatabaseConnection, openDatabase } from './database-connection.js';
import { Database, DATABASE_CONNECTION } from './database.constants.js';

@Global()
@Module({
  providers: [
    {
      provide: DATABASE_CONNECTION,
      inject: [databaseConfig.KEY],
      // Migrated before anything can inject it: no request ever meets a schema older than the code.
      useFactory: async (config: DatabaseConfig): Promise<DatabaseConnection> => {
        const connection = await openDatabase(config);
        try {
          await connection.migrate();
        } catch (error) {
          await connection.close().catch(() => undefined);
          // Start-up fails here when the server is unreachable: name the variable an operator must check.
          if (config.url) {
            const reason = error instanceof Error ? error.message || (error as { code?: string }).code || error.name : String(error);
            throw new Error(`DATABASE_URL: PostgreSQL at ${maskUrl(config.url)} could not be reached or migrated: ${reason}`, {
              cause: error,
            });
          }
          throw error;
        }
        new Logger('Database').log(`${connection.kind === 'pglite' ? 'PGlite' : 'PostgreSQL'} schema is up to date`);
        return connection;
      },
    },
    {
      provide: Database,
      inject: [DATABASE_CONNECTION],
      useFactory: (connection: DatabaseConnection) => connection.db,
    },
  ],
  exports: [Database, DATABASE_CONNECTION],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_CONNECTION) private readonly connection: DatabaseConnection) {}

  /** After the HTTP server has closed, so in-flight requests could still finish their queries. */
  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}
