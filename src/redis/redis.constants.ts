/** The shared ioredis connection (a `Redis` or a `Cluster`), or `null` in embedded mode (neither REDIS_URL nor REDIS_CLUSTER_NODES). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
