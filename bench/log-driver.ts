/**
 * The floor under bench/logs.ts: how fast Docker's fluentd driver itself delivers a burst,
 * with no daemon. One container (busybox from this machine, FROM scratch) prints N lines as fast
 * as it can; its fluentd driver sends them to a bare Unix socket that only counts bytes, and
 * `docker logs -f` follows the same container, in the same run.
 *   node --import tsx bench/log-driver.ts [lines] [fast]
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addFile, createPack } from '../src/backend/docker/tar.ts';
import { docker, LABEL } from '../test/docker.ts';
import { removeLabelled } from '../test/helpers.ts';
import { table } from './lib.ts';

const N = Number(process.argv[2] ?? 20_000);
const FAST = process.argv[3] === 'fast';
const instance = `bench-driver-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'jinad-bench-driver-'));
const LAST = `line ${N - 1} end`;

try {
  const tag = `jinad-bench-driver:${instance}`;
  const pack = createPack();
  const added = Promise.all([addFile(pack, 'busybox', readFileSync('/bin/busybox'), 0o755), addFile(pack, 'Dockerfile', 'FROM scratch\nCOPY busybox /bin/busybox\n')]).then(() => pack.finalize());
  await docker.buildImage({ context: pack, tag, labels: { [LABEL.instance]: instance } });
  await added;

  let driverDone: number | undefined;
  let tail = '';
  const socket = path.join(dir, 'driver.sock');
  const sink = net.createServer((s) =>
    s.on('data', (b) => {
      tail = (tail + b.toString('latin1')).slice(-200);
      if (!driverDone && tail.includes(LAST)) driverDone = performance.now();
    }),
  );
  await new Promise<void>((r) => sink.listen(socket, r));

  // Waits for a file to appear before printing, so `docker logs -f` is attached from the first line.
  // The shell's loop prints ~30k lines/s; awk (`fast`) as fast as the Node emitter of bench/logs.ts or faster.
  const print = FAST ? `/bin/busybox awk 'BEGIN{for(i=0;i<${N};i++) print "line " i " end"}'` : `i=0; while [ $i -lt ${N} ]; do echo "line $i end"; i=$((i+1)); done`;
  const script = `while [ ! -e /tmp/go ]; do sleep 0.05; done; ${print}; sleep 3600`;
  const name = `jinad-bench-driver-${instance}`;
  await docker.runContainer({
    name,
    image: tag,
    entrypoint: ['/bin/busybox', 'sh', '-c', `mkdir -p /tmp; ${script}`], // busybox's shell runs its own applets
    labels: { [LABEL.instance]: instance },
    publishHost: '127.0.0.1',
    logConfig: { type: 'fluentd', config: { 'fluentd-address': `unix://${socket}`, 'fluentd-async': 'true', 'fluentd-sub-second-precision': 'true', tag: 'bench' } },
  });
  let logsDone: number | undefined;
  let logsTail = '';
  const follower = spawn('docker', ['logs', '-f', name], { stdio: ['ignore', 'pipe', 'ignore'] });
  follower.stdout.on('data', (b: Buffer) => {
    logsTail = (logsTail + b.toString()).slice(-200);
    if (!logsDone && logsTail.includes(LAST)) logsDone = performance.now();
  });
  await new Promise((r) => setTimeout(r, 500)); // the follower attached
  const t0 = performance.now();
  await docker.engine.getContainer(name).exec({ Cmd: ['/bin/busybox', 'touch', '/tmp/go'] }).then((e) => e.start({}));
  for (let i = 0; i < 1200 && !(driverDone && logsDone); i++) await new Promise((r) => setTimeout(r, 50));
  follower.kill();
  sink.close();
  const rate = (end?: number) => (end ? Math.round(N / ((end - t0) / 1000)) : 0);
  console.log(`a burst of ${N} lines from busybox: lines per second until the last one arrived\n`);
  console.log(table([
    ['', 'lines/s'],
    ['fluentd driver → bare Unix socket', rate(driverDone) || 'did not finish'],
    ['docker logs -f', rate(logsDone) || 'did not finish'],
    ['ratio driver / docker logs -f', (rate(driverDone) / rate(logsDone)).toFixed(2)],
  ]));
} finally {
  await removeLabelled(instance);
  rmSync(dir, { recursive: true, force: true });
}
