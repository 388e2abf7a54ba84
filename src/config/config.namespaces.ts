import { ConfigModule, getConfigToken, registerAs } from '@nestjs/config';
import type { DynamicModule } from '@nestjs/common';
import type { AppConfiguration, ConfigNamespace } from './configuration.types.js';

const NAMESPACES: ConfigNamespace[] = ['app', 'redis', 'database', 'auth', 'otp', 'messaging'];

function namespace<K extends ConfigNamespace>(key: K) {
  return { KEY: getConfigToken(key), key } as const;
}

/** Inject one concern's typed settings with `@Inject(otpConfig.KEY) otp: OtpConfig`. */
export const appConfig = namespace('app');
export const redisConfig = namespace('redis');
export const databaseConfig = namespace('database');
export const authConfig = namespace('auth');
export const otpConfig = namespace('otp');
export const messagingConfig = namespace('messaging');

/**
 * The configuration is validated once, before Nest starts (see `load-configuration.ts`); this only
 * hands the result to `@nestjs/config`, one `registerAs` namespace per concern. Reading process.env
 * again here would let a value differ from the one that was validated and reported.
 */
export function configModuleFor(configuration: AppConfiguration): Promise<DynamicModule> {
  return ConfigModule.forRoot({
    isGlobal: true,
    ignoreEnvFile: true,
    skipProcessEnv: true,
    load: NAMESPACES.map((key) => registerAs(key, () => configuration[key])),
  });
}
