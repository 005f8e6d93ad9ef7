/**
 * Memory under concurrent uploads: N uploads of S MiB each, at once, to the daemon (fake
 * backend: the upload path alone) and to a bare node:http server streaming bodies to disk,
 * in one run. Reports each process's RSS before and its peak during the uploads.
 * Target: 4 × 250 MiB uploads add < 100 MiB RSS to the daemon.
 *   node --import tsx bench/upload-memory.ts [uploads] [MiB each]
 */
import { openAsBlob } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers.ts';
import { benchDaemon, rssMiB, startProcess, stopProcess, table } from './lib.ts';

const UPLOADS = Number(process.argv[2] ?? 4);
const MIB = Number(process.argv[3] ?? 250);

const dir = mkdtempSync(path.join(tmpdir(), 'jinad-upload-bench-'));
const file = path.join(dir, 'payload.bin');
writeFileSync(file, Buffer.alloc(MIB * 1024 * 1024, 7));

/** Send the uploads at once while sampling the server's RSS every 20 ms. */
async function measure(pid: number, send: () => Promise<Response>): Promise<{ before: number; peak: number; seconds: number }> {
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: UPLOADS }, send));
  clearInterval(sampler);
  for (const r of results) if (r.status !== 201) throw new Error(`upload answered ${r.status}: ${await r.text()}`);
  return { before, peak, seconds: (performance.now() - t0) / 1000 };
}
const form = async () => {
  const f = new FormData();
  f.append('files', await openAsBlob(file), 'payload.bin');
  return f;
};

const daemon = await benchDaemon({ JINAD_BACKEND: 'fake' });
const barePort = await freePort();
const bare = await startProcess('bench/bare-upload.ts', { BARE_PORT: String(barePort) }, barePort);
try {
  const d = await measure(daemon.pid, async () => fetch(`${daemon.url}/workspaces`, { method: 'POST', body: await form() }));
  const b = await measure(bare.pid!, async () => fetch(`http://127.0.0.1:${barePort}/`, { method: 'POST', body: await form() }));
  console.log(`${UPLOADS} concurrent uploads of ${MIB} MiB\n`);
  console.log(
    table([
      ['server', 'RSS before MiB', 'peak MiB', 'added MiB', 'seconds'],
      ['jinad (fake backend)', d.before.toFixed(0), d.peak.toFixed(0), (d.peak - d.before).toFixed(0), d.seconds.toFixed(1)],
      ['bare node:http → file', b.before.toFixed(0), b.peak.toFixed(0), (b.peak - b.before).toFixed(0), b.seconds.toFixed(1)],
    ]),
  );
  console.log(`\nadded RSS, jinad / bare: ${((d.peak - d.before) / Math.max(1, b.peak - b.before)).toFixed(2)}; target: jinad adds < 100 MiB`);
} finally {
  await stopProcess(bare);
  await daemon.close();
  rmSync(dir, { recursive: true, force: true });
}
