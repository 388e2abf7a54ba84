/** The shared ioredis connection, or `null` in embedded mode (no REDIS_URL). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
