/**
 * The daemon's own side of bench/logs.ts, without the engine: N records shaped as Docker's
 * fluentd driver sends them (captured: `[tag, EventTime, {container_id, container_name, source,
 * log}, {}]`), tagged for a real Pea of a real workspace, written straight into the daemon's
 * log socket as fast as it takes them; how fast they reach the file (and a WebSocket follower)
 * and the daemon's CPU per line (from /proc).
 *   node --import tsx bench/log-receiver.ts [lines ≤ 100000: logs.linesPerSecond lets five seconds' worth through] [nows]
 */
import net from 'node:net';
import path from 'node:path';
import { encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { socketPathFor } from '../plugins/logs/options.ts';
import { benchDaemon, cpuSeconds, emitterPea, fileTail, table } from './lib.ts';

const N = Math.min(100_000, Number(process.argv[2] ?? 100_000));
const FOLLOW = process.argv[3] !== 'nows';

const daemon = await benchDaemon();
try {
  const { ws, id } = await emitterPea(daemon.url);
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

  const cpu0 = cpuSeconds(daemon.pid);
  const t0 = performance.now();
  sender.write(records);
  const last = new RegExp(`emit \\d+ ${N - 1}"`);
  let fileDone: number | undefined;
  while (!fileDone || (follower && !followerDone)) {
    if (!fileDone && last.test(fileTail(file))) fileDone = performance.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  const cpu = cpuSeconds(daemon.pid) - cpu0;
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
