import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/**
 * How long a service may take to print a line, "Listening on" above all. It starts in 2-3 s alone, but
 * late in the suite (one jest process past 4 GB beside it, on two shared cores) it has taken over 15 s.
 */
const OUTPUT_TIMEOUT_MS = 60_000;

/** The built service (`node dist/main.js`) as its own process, with everything it prints captured. */
export class ServiceProcess {
  /**
   * Every process started and not yet exited. One a failed test left running would keep jest from
   * exiting (its pipes hold the event loop), and as a delivery worker it would take the jobs of the
   * tests after it; test/jest/stop-service-processes.ts kills what is left when a test file ends.
   */
  private static readonly running = new Set<ServiceProcess>();

  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    ServiceProcess.running.add(this);
    void this.exited.then(() => ServiceProcess.running.delete(this));
  }

  /** Kills every process still running and waits for each to exit. */
  static async killAll(): Promise<void> {
    const left = [...ServiceProcess.running];
    for (const service of left) service.kill();
    await Promise.all(left.map((service) => service.exited));
  }

  /**
   * Only the variables given: nothing leaks in from the environment the tests run in. It runs in a
   * scratch directory of its own, so an embedded database (./.data in development) is never shared.
   * `mainJs`: the built entry point, for callers compiled elsewhere than test/ (the soak run); `cwd`: a
   * working directory of the caller's instead of a scratch one.
   */
  static start(env: Record<string, string>, options: { mainJs?: string; cwd?: string } = {}): ServiceProcess {
    // A directory the caller gives is the caller's to remove (to start again on the same ./.data).
    const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), 'otp-gateway-process-'));
    const child = spawn(process.execPath, [options.mainJs ?? MAIN_JS], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (options.cwd === undefined) child.once('exit', () => rmSync(cwd, { recursive: true, force: true }));
    return new ServiceProcess(child);
  }

  async waitForOutput(pattern: RegExp, timeoutMs = OUTPUT_TIMEOUT_MS): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null) throw new Error(`service exited before printing ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The base URL, read from the service's own "Listening on" line. */
  async listening(timeoutMs?: number): Promise<string> {
    const [, url] = await this.waitForOutput(/Listening on (http:\/\/[^\s"]+)/, timeoutMs);
    return url!;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Stops reading the process's standard output until `resumeOutput`, as a log collector that fell behind does: what
   * it writes fills the pipe, then waits in its logger.
   */
  pauseOutput(): void {
    this.child.stdout?.pause();
  }

  resumeOutput(): void {
    this.child.stdout?.resume();
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
