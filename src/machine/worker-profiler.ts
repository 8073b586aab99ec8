/**
 * Developer aid: TSVISOR_CPU_PROFILE=FILE profiles the machine thread with
 * V8's sampling profiler and writes a .cpuprofile (Chrome DevTools format)
 * when the machine ends or after TSVISOR_CPU_PROFILE_SECONDS, whichever
 * comes first. `node --cpu-prof` cannot do this for us: the CLI usually ends
 * on a signal or process.exit, and the profile is lost.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

export function startProfilerFromEnv(): (() => void) | undefined {
  const file = process.env.TSVISOR_CPU_PROFILE;
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  let done = false;
  const stop = (): void => {
    if (done) return;
    done = true;
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(file, JSON.stringify(result.profile));
      session.disconnect();
    });
  };
  const seconds = Number(process.env.TSVISOR_CPU_PROFILE_SECONDS ?? '0');
  if (seconds > 0) setTimeout(stop, seconds * 1000).unref();
  return stop;
}
