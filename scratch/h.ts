import net from 'node:net';
import { startFakeDaemon } from '../test/helpers.ts';
const d = await startFakeDaemon();
const port = Number(new URL(d.url).port);
for (const [what, req] of [['long url', `GET /workspaces/${'x'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`], ['long header', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'y'.repeat(100_000)}\r\n\r\n`]] as const) {
  const s = net.connect(port, '127.0.0.1');
  let got = '';
  s.on('data', (c) => (got += c));
  s.on('error', (e) => (got += ` [error ${e.message}]`));
  s.write(req);
  await new Promise((r) => s.once('close', r));
  console.log(what, JSON.stringify(got.slice(0, 120)));
}
await d.cleanup();
