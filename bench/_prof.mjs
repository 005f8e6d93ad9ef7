import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
const s = new Session();
s.connect();
await s.post('Profiler.enable');
await s.post('Profiler.setSamplingInterval', { interval: 500 });
setTimeout(async () => {
  await s.post('Profiler.start');
  setTimeout(async () => {
    const { profile } = await s.post('Profiler.stop');
    writeFileSync('/tmp/daemon.cpuprofile', JSON.stringify(profile));
  }, 20_000).unref();
}, Number(process.env.PROF_DELAY_MS ?? 12000)).unref();
await import('../src/start.mjs');
