import { readFileSync } from 'node:fs';

/**
 * Summarizes a V8 .cpuprofile (`node --cpu-prof`): self time by function and by package, so the
 * costs that matter stand out without a profiler UI; then the time spent in Node itself and in native
 * code (system calls such as `writev`, crypto) by the package that called it, since "writev: 15 %" says
 * little until it says whose writes they were (the database driver's, the HTTP reply's, Redis's).
 * A .heapprofile (V8's sampling heap profiler, `BENCH_HEAP_PROF=1`) is summarized the same way, as the
 * bytes each function allocated.
 * Usage: node bench/.build/bench/profile-top.js <file> [rows]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A sampling heap profile: a tree whose nodes carry the bytes sampled as allocated by their own frame. */
interface HeapNode {
  id: number;
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-top <file.cpuprofile | file.heapprofile> [rows]');
  process.exit(2);
}
const rows = Number(rowsArg ?? 40);
const loaded = JSON.parse(readFileSync(file, 'utf8')) as Profile | { head: HeapNode };
const isHeap = 'head' in loaded;
const byId = new Map<number, { callFrame: CallFrame }>();
const parentOf = new Map<number, number>();
/** Self time in µs (a CPU profile) or self bytes (a heap profile), by node. */
const selfAmounts = new Map<number, number>();
if ('head' in loaded) {
  const visit = (node: HeapNode) => {
    byId.set(node.id, node);
    selfAmounts.set(node.id, node.selfSize);
    for (const child of node.children) {
      parentOf.set(child.id, node.id);
      visit(child);
    }
  };
  visit(loaded.head);
} else {
  for (const node of loaded.nodes) byId.set(node.id, node);
  for (const node of loaded.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  loaded.samples.forEach((id, i) => selfAmounts.set(id, (selfAmounts.get(id) ?? 0) + (loaded.timeDeltas[i] ?? 0)));
}

const total = [...selfAmounts.values()].reduce((sum, value) => sum + value, 0);
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
const nativeByCaller = new Map<string, number>();
const add = (table: Map<string, number>, key: string, micros: number) => table.set(key, (table.get(key) ?? 0) + micros);
for (const [id, micros] of selfAmounts) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const where = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/');
  add(byFunction, `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`, micros);
  add(byPackage, packageOf(url, functionName), micros);
  const caller = callerOf(id);
  if (caller) add(nativeByCaller, `${functionName || '(anonymous)'} <- ${caller}`, micros);
}

/** For time in Node or native code: the nearest frame above it in a package or the service, as `package functionName`. */
function callerOf(id: number): string | undefined {
  const own = byId.get(id)!.callFrame;
  const ownPackage = packageOf(own.url, own.functionName);
  if (ownPackage !== 'node internals' && ownPackage !== '(native / gc / other)') return undefined;
  for (let at = parentOf.get(id); at !== undefined; at = parentOf.get(at)) {
    const { url, functionName } = byId.get(at)!.callFrame;
    const where = packageOf(url, functionName);
    if (where !== 'node internals' && where !== '(native / gc / other)' && !where.startsWith('('))
      return `${where} ${functionName || '(anonymous)'}`;
  }
  return undefined;
}

function packageOf(url: string, functionName: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1]!;
  if (url.includes('/dist/')) return 'service (dist/)';
  if (url.startsWith('node:') || (url !== '' && !url.startsWith('file:'))) return 'node internals';
  return functionName.startsWith('(') ? functionName : '(native / gc / other)';
}

/** Thousandths of what was sampled: ms of a CPU profile's µs, KB of a heap profile's bytes. */
const unit = isHeap ? 'KB' : 'ms';
const what = isHeap ? 'bytes allocated' : 'self time';
const print = (title: string, table: Map<string, number>, limit: number) => {
  console.log(`\n${title}`);
  for (const [name, amount] of [...table].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    console.log(`${((amount / total) * 100).toFixed(1).padStart(5)}%  ${(amount / 1000).toFixed(0).padStart(7)} ${unit}  ${name}`);
  }
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ${unit} sampled`);
print(`${what} by package`, byPackage, 25);
print(`${what} by function`, byFunction, rows);
print(`${what} in Node and native code, by the package and function that called it`, nativeByCaller, rows);
