/**
 * What authentication costs: GET /workspaces/{id} with a bearer token against the same request
 * to a daemon with authentication off (bench/ab.ts: same load, same run, interleaved rounds,
 * req/s and the daemon's CPU per request). BENCH_CONTROL=1 runs two daemons without
 * authentication, to show the noise between identical daemons. Target: ≥ 0.95.
 *   node --import tsx bench/auth.ts [seconds] [connections] [rounds]
 */
import { abGet } from './ab.ts';
import { benchDaemon } from './lib.ts';

const control = Boolean(process.env.BENCH_CONTROL);
const withAuth = await benchDaemon({ JINAD_BACKEND: 'fake', JINAD_AUTH: control ? 'off' : 'on' });
const without = await benchDaemon({ JINAD_BACKEND: 'fake' });
try {
  console.log(`GET /workspaces/{id}: ${control ? 'CONTROL, both without authentication' : 'with a bearer token (authentication on) vs authentication off'}`);
  const r = await abGet(withAuth, without, { seconds: Number(process.argv[2] ?? 5), connections: Number(process.argv[3] ?? 50), rounds: Number(process.argv[4] ?? 7), names: ['token', 'no auth'] });
  console.log(`\nmedian req/s ratio token / no auth: ${r.rps.toFixed(3)}; median CPU-per-request ratio (no auth / token): ${r.cpu.toFixed(3)} (rounds in turn); both under load at once: ${r.together.rps.toFixed(3)} req/s, ${r.together.cpu.toFixed(3)} CPU (target ≥ 0.95)`);
} finally {
  await withAuth.close();
  await without.close();
}
