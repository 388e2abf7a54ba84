import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';
import { freePort } from './free-port.js';
import { RedisServer, waitForPort } from './redis-server.js';

/**
 * A master, its replica and a Sentinel watching them, each a redis-server on free loopback ports:
 * enough for a real failover, in which the Sentinel promotes the replica and demotes the master.
 */
export class RedisSentinelGroup {
  static readonly NAME = 'otp-test-master';

  private constructor(
    readonly master: RedisServer,
    readonly replica: RedisServer,
    readonly sentinelPort: number,
    private readonly sentinel: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(): Promise<RedisSentinelGroup> {
    const dir = mkdtempSync(join(tmpdir(), 'otp-gateway-redis-sentinel-'));
    // Replication writes a snapshot on each side: into the scratch directory, not the working directory.
    const master = await RedisServer.start({ extraArgs: (port) => ['--dir', dir, '--dbfilename', `master-${port}.rdb`] });
    const replica = await RedisServer.start({
      extraArgs: (port) => ['--dir', dir, '--dbfilename', `replica-${port}.rdb`, '--replicaof', '127.0.0.1', String(master.port)],
    });
    const sentinelPort = await freePort();
    // Sentinel rewrites its configuration file as it learns, so it gets one of its own.
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${RedisSentinelGroup.NAME} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${RedisSentinelGroup.NAME} 1000`,
        `sentinel failover-timeout ${RedisSentinelGroup.NAME} 5000`,
        '',
      ].join('\n'),
    );
    const sentinel = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', [config, '--sentinel', '--loglevel', 'warning'], {
      stdio: 'ignore',
    });
    const group = new RedisSentinelGroup(master, replica, sentinelPort, sentinel, dir);
    try {
      await waitForPort(sentinelPort, 10_000);
      // Ready for a failover once the replica is in sync and the Sentinel has found it.
      await eventually(async () => {
        expect(await group.ask('SENTINEL', 'REPLICAS', RedisSentinelGroup.NAME)).toHaveLength(1);
        const info = await group.on(replica, (client) => client.info('replication'));
        expect(info).toMatch(/master_link_status:up/);
      }, 20_000);
      return group;
    } catch (error) {
      await group.stop();
      throw error;
    }
  }

  /** The value for REDIS_SENTINELS. */
  get sentinels(): string {
    return `127.0.0.1:${this.sentinelPort}`;
  }

  /** Has the Sentinel promote the replica, and waits until it is the master everyone is told about. */
  async failover(): Promise<void> {
    await this.ask('SENTINEL', 'FAILOVER', RedisSentinelGroup.NAME);
    await eventually(async () => {
      expect(await this.ask('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', RedisSentinelGroup.NAME)).toEqual([
        '127.0.0.1',
        String(this.replica.port),
      ]);
      expect(await this.on(this.replica, (client) => client.call('ROLE'))).toEqual(expect.arrayContaining(['master']));
    }, 20_000);
  }

  /** The server the Sentinel names as the master now, and the other one. */
  async roles(): Promise<{ master: RedisServer; replica: RedisServer }> {
    const [, port] = (await this.ask('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', RedisSentinelGroup.NAME)) as [string, string];
    return Number(port) === this.master.port
      ? { master: this.master, replica: this.replica }
      : { master: this.replica, replica: this.master };
  }

  /** Runs something against one of the two servers on a short-lived connection. */
  on<T>(server: RedisServer, run: (client: Redis) => Promise<T>): Promise<T> {
    return withConnection(server.port, run);
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) =>
      this.sentinel.exitCode !== null ? resolve() : this.sentinel.once('exit', () => resolve()),
    );
    this.sentinel.kill('SIGKILL');
    await exited;
    await Promise.all([this.master.stop(), this.replica.stop()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ask(...command: [string, ...string[]]): Promise<unknown> {
    return withConnection(this.sentinelPort, (client) => client.call(...command));
  }
}

async function withConnection<T>(port: number, run: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return await run(client);
  } finally {
    client.disconnect();
  }
}
