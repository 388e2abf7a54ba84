/**
 * The shared ioredis connection (a `Redis` or a `Cluster`), or `null` in embedded mode (none of REDIS_URL,
 * REDIS_CLUSTER_NODES and REDIS_SENTINELS).
 */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
