/**
 * What authentication costs: GET /workspaces/{id} with a bearer token against the same request
 * to a daemon with authentication off (bench/ab.ts: same load, same run, interleaved rounds,
 * req/s and the daemon's CPU per request; both ways, the daemons swapped). BENCH_CONTROL=1 runs two daemons without
 * authentication, to show the noise between identical daemons. Target: ≥ 0.95.
 *   node --import tsx bench/auth.ts [seconds] [connections] [rounds]
 */
import { abGetBothWays, reportBothWays } from './ab.ts';
import { benchDaemon } from './lib.ts';

const control = Boolean(process.env.BENCH_CONTROL);
const opts = { seconds: Number(process.argv[2] ?? 5), connections: Number(process.argv[3] ?? 50), rounds: Number(process.argv[4] ?? 7), names: ['token', 'no auth'] as [string, string] };
console.log(`GET /workspaces/{id}: ${control ? 'CONTROL, both without authentication' : 'with a bearer token (authentication on) vs authentication off'}`);
const r = await abGetBothWays({ a: () => benchDaemon({ JINAD_BACKEND: 'fake', JINAD_AUTH: control ? 'off' : 'on' }), b: () => benchDaemon({ JINAD_BACKEND: 'fake' }) }, opts);
reportBothWays(r, 'token / no auth');
