/**
 * Test helpers: a real daemon on loopback (its own root, database file and instance label) on
 * the Docker backend or the fake one, cleanup of every Docker object carrying that label,
 * multipart forms and zip archives.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { socketPathFor } from '../plugins/logs/options.ts';
import { createFakeBackend, type FakeBackend } from '../src/backend/fake/index.ts';
import { type JinadConfigInput, resolveConfig } from '../src/config.ts';
import { createDaemon, type Daemon } from '../src/daemon.ts';
import { docker, LABEL } from './docker.ts';

export { docker, LABEL };

export interface TestDaemon {
  url: string;
  daemon: Daemon;
  root: string;
  instance: string;
  /** The admin token the daemon made (authentication on), else undefined. */
  adminToken?: string;
  /** The log receiver's TCP port (a Swarm's nodes send there): give it again to a daemon restarted on the same root. */
  logsPort: number;
  /** The log receiver's Unix socket, where the engine sends objects' output. */
  logsSocket: string;
  /** Stop the daemon (jobs stop and resume at the next start on the same root). */
  stop(): Promise<void>;
  /** Stop, remove every Docker object labelled with this instance, and the root. */
  cleanup(): Promise<void>;
}

/** Remove every container, network and image labelled with the instance. */
export async function removeLabelled(instance: string): Promise<void> {
  // Swarm services first (an engine that is no Swarm manager lists none): their tasks' containers go with them.
  const services = await docker.engine.listServices({ filters: JSON.stringify({ label: [`${LABEL.instance}=${instance}`] }) }).catch(() => []);
  await Promise.all(services.map((s) => docker.engine.getService(s.ID).remove().catch(() => {})));
  const objs = await docker.listLabelled({ [LABEL.instance]: instance });
  await Promise.all(objs.containers.map((c) => docker.removeContainer(c.id)));
  // A Swarm task's container leaves its overlay network a moment after its service is removed.
  for (const n of objs.networks) {
    for (let attempt = 1; ; attempt++) {
      try {
        await docker.removeNetwork(n.id);
        break;
      } catch (err) {
        if (attempt >= 50 || !/in use|active endpoints/i.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  // One image may carry several workspace tags (identical workspaces share it): untag, then remove.
  for (const i of objs.images) {
    for (const tag of i.tags.filter((t) => t !== '<none>:<none>')) await docker.removeImage(tag);
    await docker.removeImage(i.id);
  }
  // And the untagged layers of its builds that carry its label (a build's LABEL steps), children
  // before parents: a pass removes what nothing depends on any more, until a pass removes nothing.
  for (let removed = true; removed; ) {
    removed = false;
    const layers = await docker.engine.listImages({ all: true, filters: JSON.stringify({ label: [`${LABEL.instance}=${instance}`] }) });
    for (const layer of layers) {
      const gone = await docker.engine
        .getImage(layer.Id)
        .remove({ noprune: true })
        .then(
          () => true,
          () => false, // still a parent of another layer, or in use: the next pass, or never
        );
      removed ||= gone;
    }
  }
}

/**
 * A daemon on a free port, on the Docker backend (default) or the given one (a fake).
 * Restart one on the same root with `{ root, instance, logsPort }` of the first.
 */
export async function startDaemon(
  opts: { root?: string; instance?: string; logsPort?: number; config?: JinadConfigInput; backend?: FakeBackend } = {},
): Promise<TestDaemon> {
  const root = opts.root ?? mkdtempSync(path.join(tmpdir(), 'jinad-test-'));
  const instance = opts.instance ?? `test-${randomUUID().slice(0, 8)}`;
  const logs = (opts.config?.logs ?? {}) as { port?: number };
  const logsPort = opts.logsPort ?? logs.port ?? (await freePort());
  // Authentication is off unless a test turns it on: the suites in test/security/auth* test it.
  const config = resolveConfig({ root, port: 0, instance, logLevel: 'warn', auth: false, ...opts.config, logs: { ...logs, port: logsPort } });
  const daemon = await createDaemon(config, { backend: opts.backend });
  const { url } = await daemon.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await daemon.close();
  };
  const tokenFile = path.join(root, 'admin.token');
  return {
    url,
    daemon,
    adminToken: config.auth && existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined,
    root,
    instance,
    logsPort,
    logsSocket: socketPathFor(root),
    stop,
    async cleanup() {
      await stop();
      if (!opts.backend) await removeLabelled(instance);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A multipart form with field `files`, one part per entry (name → content). */
export function filesForm(files: Record<string, string | Buffer>): FormData {
  const form = new FormData();
  for (const [name, content] of Object.entries(files)) form.append('files', new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), name);
  return form;
}

const bearer = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

export async function waitForState(url: string, id: string, states: string[], timeoutMs = 120_000, token?: string): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, any> = {};
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/workspaces/${id}`, { headers: bearer(token) });
    last = (await res.json()) as Record<string, any>;
    if (states.includes(last.state)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`workspace ${id} did not reach ${states.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** POST a workspace and wait until it is ACTIVE or FAILED. */
export async function createWorkspace(url: string, files: Record<string, string | Buffer>, query = '', opts: { token?: string } = {}): Promise<{ id: string; item: Record<string, any> }> {
  const res = await fetch(`${url}/workspaces${query}`, { method: 'POST', body: filesForm(files), headers: bearer(opts.token) });
  if (res.status !== 201) throw new Error(`POST /workspaces → ${res.status} ${await res.text()}`);
  const id = Object.keys((await res.json()) as object)[0]!;
  return { id, item: await waitForState(url, id, ['ACTIVE', 'FAILED'], 120_000, opts.token) };
}

/** Call a daemon's API with an optional JSON body; the answer's status and parsed JSON. */
export async function callJson(base: string, method: string, route: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers = { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const res = await fetch(`${base}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

/** Poll an item (`GET <route>`, e.g. `/flows/<id>`) until `ok` holds; after `ms`, fail showing its metadata. */
export async function untilItem(base: string, route: string, ok: (item: any) => boolean, ms = 5000): Promise<any> {
  const deadline = Date.now() + ms;
  let last = (await callJson(base, 'GET', route)).body;
  while (!ok(last)) {
    if (Date.now() > deadline) assert.fail(`condition not met; ${route}: ${JSON.stringify(last.metadata ?? last)}`);
    await new Promise((r) => setTimeout(r, 25));
    last = (await callJson(base, 'GET', route)).body;
  }
  return last;
}

/** A free TCP port on loopback, for a test's fixed `.jinad` ports. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function retryFetch(url: string, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// --- zip archives written by hand, so tests can make the malicious ones real tools refuse to ---

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A zip, stored or (`deflate`) compressed. `mode` sets the unix mode, e.g. 0o120777 for a
 * symlink entry; `declaredSize` makes the headers lie about the size the entry expands to.
 */
export function makeZip(entries: { name: string; data?: string | Buffer; mode?: number; deflate?: boolean; declaredSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const raw = Buffer.from(e.data ?? '');
    const data = e.deflate ? deflateRawSync(raw) : raw;
    const size = e.declaredSize ?? raw.length;
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    if (e.deflate) local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x031e, 4); // made by unix, so external attributes carry the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    if (e.deflate) central.writeUInt16LE(8, 10);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? (e.name.endsWith('/') ? 0o40755 : 0o100644)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A daemon on the in-memory fake backend: no Docker Engine involved. */
export async function startFakeDaemon(opts: Parameters<typeof startDaemon>[0] = {}): Promise<TestDaemon & { backend: FakeBackend }> {
  const backend = opts.backend ?? createFakeBackend();
  return Object.assign(await startDaemon({ ...opts, backend }), { backend });
}

/** Debian's Chromium, headless, with nothing that calls out (tests check every request stays on the daemon). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A pure-Python wheel made here (PyPI is out of reach): its modules' files, with the metadata pip reads. */
export function pureWheel(name: string, version: string, files: Record<string, string>): Buffer {
  const info = `${name}-${version}.dist-info`;
  const all: Record<string, string> = {
    ...files,
    [`${info}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`,
    [`${info}/WHEEL`]: 'Wheel-Version: 1.0\nGenerator: jinad-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
  };
  const record = [...Object.keys(all), `${info}/RECORD`].map((f) => `${f},,`).join('\n');
  return makeZip([...Object.entries(all).map(([n, data]) => ({ name: n, data })), { name: `${info}/RECORD`, data: `${record}\n` }]);
}
