import type { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/redis-connection.js';
import { BULL_WAITING_REDIRECTIONS, bullClient } from './messaging.module.js';

describe('bullClient', () => {
  it("gives the waiting connections on a cluster enough redirections to outlast a restart, the job commands' one the fail-fast few", () => {
    const opened: RedisClient[] = [];
    const open = bullClient({ url: undefined, clusterNodes: [{ host: '127.0.0.1', port: 1 }] }, opened);
    try {
      const redirections = (['client', 'subscriber', 'bclient'] as const).map((type) => (open(type) as Cluster).options.maxRedirections);
      expect(redirections).toEqual([6, BULL_WAITING_REDIRECTIONS, BULL_WAITING_REDIRECTIONS]);
      expect(opened).toHaveLength(3);
    } finally {
      for (const client of opened) client.disconnect();
    }
  });
});
