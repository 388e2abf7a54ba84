import { type ChildProcess, fork, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { localProduction } from '../test/support/environments.js';
import type { CheckTarget, LoadJob, LoadResult } from './load-client.js';
import type { Runtime } from './runtime.js';

/** What the benchmarks share: the servers under test as processes, the load client, waiting and notes. */

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** bench/.build/bench/ → the repository. */
export const ROOT = resolve(HERE, '../../..');
/** The PostgreSQL server the benchmarks create their scratch databases on. */
export const POSTGRES = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
/** With BENCH_CPU_PROF=1: where a CPU profile per timed phase is written (and a heap profile, with BENCH_HEAP_PROF=1). */
export const PROFILE_DIR = process.env.BENCH_CPU_PROF ? join(ROOT, 'bench/results') : undefined;

/**
 * What a server needs to be profiled with BENCH_CPU_PROF=1 (`ServerProcess.profiled`): node flags that load the phase
 * profiler (bench/phase-profiler.ts), and what it reads, where to write and whether to sample the heap too. Nothing
 * without BENCH_CPU_PROF, or when `wanted` is false.
 */
export function phaseProfiler(wanted = true): { args: string[]; env: Record<string, string> } {
  if (PROFILE_DIR === undefined || !wanted) return { args: [], env: {} };
  return {
    args: ['--import', pathToFileURL(join(HERE, 'phase-profiler.js')).href],
    env: { BENCH_PROFILE_DIR: PROFILE_DIR, ...(process.env.BENCH_HEAP_PROF === '1' ? { BENCH_HEAP_PROF: '1' } : {}) },
  };
}
export const API_KEY = 'bench-api-key-0123456789';

/** The service's configuration in every benchmark: production, on the benchmark's own servers. */
export function serviceEnvironment(servers: Parameters<typeof localProduction>[0]): Record<string, string> {
  return {
    ...localProduction(servers),
    SHUTDOWN_DRAIN_MS: '0',
    API_KEYS: API_KEY,
    // Every send goes to a new destination, so per-destination limits never bind; the per-IP limit
    // (one client address here) is raised to the top of its accepted range, far above what a run sends
    // in a minute. No TRUST_PROXY trick is needed, and the throttler still does its Redis work per request.
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    API_KEY_RATE_LIMIT_PER_MINUTE: '1000000',
    // Wrong-code checks must stay "incorrect" rather than lock: each verification is checked once anyway.
    OTP_MAX_ATTEMPTS: '100',
  };
}

/** The production image's node flags (ServerProcess.runtime), and BENCH_NODE_ARGS. */
export function serviceNodeArgs(): string[] {
  return [...ServerProcess.runtime.nodeFlags, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
}

/** How much of a server's log file is kept on disk: it is emptied when it grows past this, and written on from there. */
const LOG_FILE_LIMIT = 64 * 1024 * 1024;
let serversStarted = 0;

/**
 * A server under test, as its own process. What it prints goes to a file in `cwd`, appended, whose end is read
 * back when it fails; not to a pipe to this process, which shares the two cores with the server and the load
 * client at saturation and drained the pipe more slowly than the framework floor logged a line per request
 * (about 9 MB/s): the floor's log buffer grew until its 160 MB heap ran out (an out-of-memory abort in its
 * check phase), and with that buffer bounded, the servers would drop lines instead, which is less work than
 * writing them and would flatter whichever dropped more. A file takes each write at once, as a log collector
 * keeping up with a container's output does.
 */
export class ServerProcess {
  readonly exited: Promise<void>;
  private readonly trimmer: NodeJS.Timeout;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly logFile: string,
  ) {
    this.exited = new Promise((done) => child.once('exit', () => done()));
    // O_APPEND: once emptied, the server's next line lands at its start again.
    this.trimmer = setInterval(() => {
      if ((statSync(this.logFile, { throwIfNoEntry: false })?.size ?? 0) > LOG_FILE_LIMIT) truncateSync(this.logFile);
    }, 1000).unref();
  }

  /** The end of what it printed (64 KiB at most). */
  get output(): string {
    const fd = openSync(this.logFile, 'r');
    try {
      const size = statSync(this.logFile).size;
      const length = Math.min(size, 65_536);
      const tail = Buffer.alloc(length);
      readSync(fd, tail, 0, length, size - length);
      return tail.toString();
    } finally {
      closeSync(fd);
    }
  }

  /** The node every server runs on (bench/runtime.ts); set once, before the first starts. */
  static runtime: Runtime = {
    execPath: process.execPath,
    version: process.version,
    source: 'the node running the benchmark',
    env: {},
    nodeFlags: [],
  };

  static start(name: string, args: string[], env: Record<string, string>, cwd: string): ServerProcess {
    const { execPath, env: imageEnv } = ServerProcess.runtime;
    const logFile = join(cwd, `${name}-${++serversStarted}.log`);
    const fd = openSync(logFile, 'a');
    try {
      const child = spawn(execPath, args, {
        cwd,
        env: { PATH: process.env.PATH ?? '', ...imageEnv, ...env },
        stdio: ['ignore', fd, fd],
      });
      return new ServerProcess(name, child, logFile);
    } finally {
      closeSync(fd);
    }
  }

  /** Generous: on a machine shared with other work, a Nest process can take long to start. */
  async listening(timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /Listening on (http:\/\/[^\s"]+)/.exec(this.output);
      if (match) return match[1]!;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`${this.name} did not start:\n${this.output}`);
      await sleep(50);
    }
  }

  /** VmHWM: the most resident memory the process ever had. */
  peakRssBytes(): number {
    return statusField(`/proc/${this.child.pid}/status`, 'VmHWM') * 1024;
  }

  /** CPU time (user + system) the process has used so far, in ms; per request, it is steadier than req/s on a busy machine. */
  cpuMs(): number {
    this.mustBeRunning();
    const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  }

  /**
   * How often the process's main thread has gone to sleep so far for want of something to do (its voluntary
   * context switches: waiting in epoll for I/O, or for its GC helper threads). Each sleep ends in a wakeup,
   * which the requests that wakeup serves pay for together.
   */
  mainThreadSleeps(): number {
    return statusField(`/proc/${this.child.pid}/task/${this.child.pid}/status`, 'voluntary_ctxt_switches');
  }

  /**
   * How long, in ms, the process's main thread has so far waited for a core while it had work (the run-queue wait
   * of schedstat, `/proc/<pid>/task/<pid>/schedstat`'s second field): the time other processes on the machine had
   * the cores it could run on. Undefined where the kernel keeps no schedstat.
   */
  mainThreadWaitMs(): number | undefined {
    try {
      return Number(readFileSync(`/proc/${this.child.pid}/task/${this.child.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
    } catch {
      return undefined;
    }
  }

  rssBytes(): number {
    this.mustBeRunning();
    return statusField(`/proc/${this.child.pid}/status`, 'VmRSS') * 1024;
  }

  /**
   * With BENCH_CPU_PROF=1, `work` runs between two SIGUSR2 to the process's phase profiler (bench/phase-profiler.ts),
   * which writes `<phase>.cpuprofile`; this waits until it is written, so the writing is no part of the next phase.
   */
  async profiled<T>(phase: string, work: () => Promise<T>, profiles: Map<string, string>): Promise<T> {
    if (!PROFILE_DIR) return work();
    const file = join(PROFILE_DIR, `${phase}.cpuprofile`);
    rmSync(file, { force: true });
    rmSync(join(PROFILE_DIR, `${phase}.heapprofile`), { force: true });
    writeFileSync(join(PROFILE_DIR, `.phase-${this.child.pid}`), phase);
    this.child.kill('SIGUSR2');
    // The profiler starts on the process's next turn of its event loop.
    await sleep(50);
    const result = await work();
    this.child.kill('SIGUSR2');
    await waitUntil(() => existsSync(file), 60_000, `${this.name}'s ${phase} profile`);
    rmSync(join(PROFILE_DIR, `.phase-${this.child.pid}`), { force: true });
    profiles.set(phase, file);
    // Written before the CPU profile (bench/phase-profiler.ts), so it is there by now.
    const allocations = join(PROFILE_DIR, `${phase}.heapprofile`);
    if (existsSync(allocations)) profiles.set(`${phase} (heap)`, allocations);
    return result;
  }

  /** A server that died during a phase is reported with how it ended and what it printed last, not as a missing /proc file. */
  private mustBeRunning(): void {
    const { exitCode, signalCode } = this.child;
    if (exitCode === null && signalCode === null) return;
    throw new Error(
      `${this.name} exited (${signalCode ?? `code ${exitCode}`}) during the benchmark; its last output:\n${this.output.slice(-4096)}`,
    );
  }

  /** SIGTERM, for a graceful shutdown; SIGKILL if it lingers. */
  async stop(): Promise<void> {
    clearInterval(this.trimmer);
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A number from a `status` file of proc(5) (`VmRSS:   1234 kB`, `voluntary_ctxt_switches:   56`); 0 when absent. */
function statusField(file: string, name: string): number {
  const line = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(readFileSync(file, 'utf8'));
  return Number(line?.[1] ?? 0);
}

/** A load run, by a load client (bench/load-client.ts) in a process of its own. */
export function load(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(join(HERE, 'load-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: LoadResult | undefined;
    child.once('message', (message) => (result = message as LoadResult));
    child.once('exit', (code) => (result ? resolvePromise(result) : reject(new Error(`load client exited with ${code}`))));
    child.send(job);
  });
}

export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  required = true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      if (required) throw new Error(`gave up waiting for ${what}`);
      return false;
    }
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** A wrong-code check of each verification a send phase created: with no worker delivering, no code is known. */
export function wrongCodes(created: [string, string][] | undefined): CheckTarget[] {
  return (created ?? []).map(([, id]) => ({ id, code: '000000', right: false }));
}

export function note(message: string): void {
  console.error(`[bench] ${message}`);
}
