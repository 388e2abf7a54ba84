import { Session } from 'node:inspector';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Preloaded by `npm run bench` with BENCH_CPU_PROF=1 (`node --import <this file> dist/main.js`), so the
 * service's code stays as it is: a CPU profile per phase instead of one for the whole process. The first
 * SIGUSR2 starts V8's sampling profiler, the next one stops it and writes `<phase>.cpuprofile` to
 * BENCH_PROFILE_DIR, and so on. The phase's name is whatever the benchmark wrote to `.phase-<pid>` in that
 * directory before the starting signal. The profile is written under a temporary name and then renamed,
 * so the benchmark can wait for it to appear complete.
 *
 * With BENCH_HEAP_PROF=1 as well, each phase also gets `<phase>.heapprofile`: V8's sampling heap profiler over the
 * same phase, counting what was allocated whether or not it was collected since (a phase's garbage is what its
 * scavenges cost), one sample every 16 KB allocated; `profile-top` summarizes it by function and package, as bytes.
 */

const directory = process.env.BENCH_PROFILE_DIR;
const heap = process.env.BENCH_HEAP_PROF === '1';
/** Bytes between two samples of the heap profiler (V8's default is 32 KB): a request of the service allocates 45-110 KB. */
const HEAP_SAMPLING_INTERVAL = 16 * 1024;
if (directory) {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const write = (file: string, profile: unknown) => {
    writeFileSync(`${file}.partial`, JSON.stringify(profile));
    renameSync(`${file}.partial`, file);
  };
  let phase: string | undefined;
  let busy = Promise.resolve();
  const toggle = async () => {
    if (phase === undefined) {
      phase = readFileSync(join(directory, `.phase-${process.pid}`), 'utf8').trim();
      if (heap) {
        await post('HeapProfiler.enable');
        await post('HeapProfiler.startSampling', {
          samplingInterval: HEAP_SAMPLING_INTERVAL,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      }
      await post('Profiler.enable');
      await post('Profiler.start');
      return;
    }
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    const allocations = heap ? ((await post('HeapProfiler.stopSampling')) as { profile: unknown }).profile : undefined;
    const name = phase;
    phase = undefined;
    // The heap profile first: once the CPU profile the benchmark waits for is there, both are.
    if (allocations !== undefined) write(join(directory, `${name}.heapprofile`), allocations);
    write(join(directory, `${name}.cpuprofile`), profile);
  };
  process.on('SIGUSR2', () => {
    busy = busy.then(toggle).catch((error: unknown) => console.error('phase profiler:', error));
  });
}
