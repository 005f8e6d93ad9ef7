// The daemon (as `npm start` runs it) with a V8 CPU profile of a window of its run, for finding
// what a bench's load spends the daemon's time on:
//   BENCH_DAEMON=bench/profile-daemon.mjs PROF_DELAY_MS=14000 node --import tsx bench/mixed-load.ts
// writes PROF_OUT (default /tmp/jinad-daemon.cpuprofile): PROF_MS (20 s) of samples, from
// PROF_DELAY_MS (12 s) after start. With PROF_SIGNAL=1 the window is instead from one SIGUSR2
// to the next, which a bench sends around the part it measures (bench/logs.ts does). Open it in
// Chrome's DevTools (Performance) or any .cpuprofile viewer. (`--cpu-prof` is not allowed in
// NODE_OPTIONS; the inspector is.)
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 500 });
const stop = async () => {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(process.env.PROF_OUT ?? '/tmp/jinad-daemon.cpuprofile', JSON.stringify(profile));
};
if (process.env.PROF_SIGNAL) {
  let running = false;
  process.on('SIGUSR2', () => {
    running = !running;
    void (running ? session.post('Profiler.start') : stop());
  });
} else {
  setTimeout(async () => {
    await session.post('Profiler.start');
    setTimeout(stop, Number(process.env.PROF_MS ?? 20_000)).unref();
  }, Number(process.env.PROF_DELAY_MS ?? 12_000)).unref();
}
await import('../src/start.mjs');
