import { summarizeProfile } from './cpu-profile.js';

/**
 * Summarizes a V8 .cpuprofile (`node --cpu-prof`): self time by function and by package, so the
 * costs that matter stand out without a profiler UI; then the time spent in Node itself and in native
 * code (system calls such as `writev`, crypto) by the package that called it, since "writev: 15 %" says
 * little until it says whose writes they were (the database driver's, the HTTP reply's, Redis's).
 * A .heapprofile (V8's sampling heap profiler, `BENCH_HEAP_PROF=1`) is summarized the same way, as the
 * bytes each function allocated.
 * Usage: node bench/.build/bench/profile-top.js <file> [rows]
 */

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-top <file.cpuprofile | file.heapprofile> [rows]');
  process.exit(2);
}
const rows = Number(rowsArg ?? 40);
const { isHeap, total, byFunction, byPackage, nativeByCaller } = summarizeProfile(file);

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
