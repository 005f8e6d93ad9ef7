/**
 * The daemon's own side of bench/logs.ts, without the engine: N records shaped as Docker's
 * fluentd driver sends them (captured: `[tag, EventTime, {container_id, container_name, source,
 * log}, {}]`), tagged for a real Pea of a real workspace, written straight into the daemon's
 * log socket as fast as it takes them; how fast they reach the file (and a WebSocket follower)
 * and the daemon's CPU per line (from /proc).
 *   node --import tsx bench/log-receiver.ts [lines ≤ 100000: logs.linesPerSecond lets five seconds' worth through] [nows]
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { socketPathFor } from '../plugins/logs/options.ts';
import { filesForm, waitForState } from '../test/helpers.ts';
import { benchDaemon, table } from './lib.ts';

const N = Math.min(100_000, Number(process.argv[2] ?? 100_000));
const FOLLOW = process.argv[3] !== 'nows';
const fixture = fileURLToPath(new URL('../test/fixtures/runtime/emitter.ts', import.meta.url));
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const tailOf = (file: string) => {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(4096, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
};

const daemon = await benchDaemon();
try {
  const created = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm({ 'emitter.ts': readFileSync(fixture) }) });
  const ws = Object.keys((await created.json()) as object)[0]!;
  await waitForState(daemon.url, ws, ['ACTIVE']);
  const res = await fetch(`${daemon.url}/peas?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'emitter', uses: 'Emitter', py_modules: ['emitter.ts'] }) });
  const id = (await res.json()) as string;
  const tag = Buffer.from(encode(`jinad.${ws}.${id}`));
  const epoch = Math.floor(Date.now() / 1000);
  const records = Buffer.concat(
    Array.from({ length: N }, (_, i) => {
      const time = Buffer.alloc(10); // fixext 8, type 0: EventTime
      time[0] = 0xd7;
      time.writeUInt32BE(epoch, 2);
      time.writeUInt32BE(i, 6);
      const record = encode({ container_id: 'c'.repeat(64), container_name: '/jinad-emitter', source: 'stdout', log: `emit ${Date.now()} ${i}` });
      return Buffer.concat([Buffer.from([0x94]), tag, time, record, Buffer.from([0x80])]);
    }),
  );
  let followed = 0;
  let followerDone: number | undefined;
  const follower = FOLLOW ? new WebSocket(`${daemon.url.replace('http', 'ws')}/logstream/${id}?tail=0`) : undefined;
  follower?.on('message', () => {
    if (++followed === N) followerDone = performance.now();
  });
  if (follower) await new Promise((r) => follower.once('open', r));
  const file = path.join(daemon.root, '.daemon', ws, 'logs', id, 'logging.log');
  const sender = net.connect(socketPathFor(daemon.root));
  await new Promise((r) => sender.once('connect', r));

  const cpu0 = cpuOf(daemon.pid);
  const t0 = performance.now();
  sender.write(records);
  const last = new RegExp(`emit \\d+ ${N - 1}"`);
  let fileDone: number | undefined;
  while (!fileDone || (follower && !followerDone)) {
    if (!fileDone && last.test(tailOf(file))) fileDone = performance.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  const cpu = cpuOf(daemon.pid) - cpu0;
  sender.end();
  follower?.close();
  const rate = (end: number) => Math.round(N / ((end - t0) / 1000));
  console.log(`${N} Docker-shaped records written into the daemon's log socket at once${FOLLOW ? ', a WebSocket follower attached' : ''}\n`);
  console.log(table([
    ['', 'lines/s'],
    ['the log file', rate(fileDone)],
    ...(followerDone ? [['the WebSocket follower', rate(followerDone)]] : []),
    ['the daemon, CPU µs per line', ((cpu * 1e6) / N).toFixed(1)],
  ]));
} finally {
  await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' });
  await daemon.close();
}
