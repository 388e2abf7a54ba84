import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { databaseConfig } from '../config/config.namespaces.js';
import type { DatabaseConfig } from '../config/configuration.types.js';
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
