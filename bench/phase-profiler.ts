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
 */

const directory = process.env.BENCH_PROFILE_DIR;
if (directory) {
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  let phase: string | undefined;
  let busy = Promise.resolve();
  const toggle = async () => {
    if (phase === undefined) {
      phase = readFileSync(join(directory, `.phase-${process.pid}`), 'utf8').trim();
      await post('Profiler.enable');
      await post('Profiler.start');
      return;
    }
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    const file = join(directory, `${phase}.cpuprofile`);
    phase = undefined;
    writeFileSync(`${file}.partial`, JSON.stringify(profile));
    renameSync(`${file}.partial`, file);
  };
  process.on('SIGUSR2', () => {
    busy = busy.then(toggle).catch((error: unknown) => console.error('phase profiler:', error));
  });
}
