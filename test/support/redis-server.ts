import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './free-port.js';

/**
 * A private redis-server on a free loopback port, so a test can stop it (to see the service degrade)
 * and start it again on the same port (to see it recover), without touching any other Redis.
 */
export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly password: string | undefined,
    private readonly extraArgs: readonly string[],
  ) {}

  /**
   * `password`: clients must AUTH with it (`requirepass`), and `url` carries it.
   * `extraArgs` (given the chosen port) are added to every start, e.g. to make it a cluster node.
   */
  static async start(options: { password?: string; extraArgs?: (port: number) => string[] } = {}): Promise<RedisServer> {
    const port = await freePort();
    const server = new RedisServer(port, options.password, options.extraArgs?.(port) ?? []);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  async restart(): Promise<void> {
    if (this.process) return;
    const child = spawn(
      process.env.REDIS_SERVER_BIN ?? 'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--loglevel',
        'warning',
        ...(this.password ? ['--requirepass', this.password] : []),
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr.trim()}`))),
    );
    child.once('error', () => undefined);
    this.process = child;
    try {
      await Promise.race([waitForPort(this.port, 10_000), exited]);
    } catch (error) {
      this.process = undefined;
      child.kill('SIGKILL');
      throw error;
    }
  }

  /**
   * Freezes it (SIGSTOP) until `resume`: the kernel still accepts connections, but nothing is answered,
   * as in a long pause of the server or of the machine it runs on.
   */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** Stops it hard, as a crash or a network cut would. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
