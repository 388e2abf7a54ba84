import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { RedisServer } from './redis-server.js';

const run = promisify(execFile);

/**
 * A private Redis Cluster of masters without replicas, each a redis-server on free loopback ports,
 * its cluster state in a directory of its own. Stopping every node and starting them again (same
 * ports, same node files) brings the same cluster back with its slots, as after a power cut.
 * Needs redis-server 7 or later (for `--cluster-port`) and redis-cli.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'otp-gateway-redis-cluster-'));
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        // The bus gets a free port of its own: the default (port + 10000) may be taken or past 65535.
        const busPort = await freePort();
        nodes.push(
          await RedisServer.start({
            extraArgs: (port) => [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              join(dir, `nodes-${port}.conf`),
              '--cluster-port',
              String(busPort),
              '--dir',
              dir,
              // Short, so that a master stopped and started again is trusted again within seconds (2 × this).
              '--cluster-node-timeout',
              '3000',
            ],
          }),
        );
      }
      const cluster = new RedisCluster(nodes, dir);
      await run(process.env.REDIS_CLI_BIN ?? 'redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      await cluster.waitUntilOk();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The value for REDIS_CLUSTER_NODES: every node, as an operator would list the seeds. */
  get seeds(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  /** Until every node reports `cluster_state:ok` (slots all assigned and every master reachable). */
  async waitUntilOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.nodes.map((node) =>
          this.onNode(node, async (client) => /cluster_state:(\w+)/.exec(String(await client.cluster('INFO')))?.[1] ?? '?'),
        ),
      );
      if (states.every((state) => state === 'ok')) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ok after ${timeoutMs} ms: ${states.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The master that serves `key`'s slot. */
  async nodeFor(key: string): Promise<RedisServer> {
    const asked = this.nodes.find((node) => node.running)!;
    return this.onNode(asked, async (client) => {
      const slot = Number(await client.cluster('KEYSLOT', key));
      const range = (await client.cluster('SLOTS')).find(([start, end]) => slot >= start && slot <= end);
      const node = this.nodes.find((candidate) => candidate.port === range?.[2]?.[1]);
      if (!node) throw new Error(`no node of this cluster serves slot ${slot}`);
      return node;
    });
  }

  /** How many keys each node holds, in node order. */
  keyCounts(): Promise<number[]> {
    return Promise.all(this.nodes.map((node) => this.onNode(node, (client) => client.dbsize())));
  }

  /** Every node down at once, hard, as when the whole cluster becomes unreachable. */
  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  /** Every node up again on its ports with its node file, then until the cluster is ok. */
  async restartAll(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.restart()));
    await this.waitUntilOk();
  }

  async stop(): Promise<void> {
    await this.stopAll();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async onNode<T>(node: RedisServer, use: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(node.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await use(client);
    } finally {
      client.disconnect();
    }
  }
}
