/**
 * What Docker's fluentd log driver really sends, captured from this engine: a container logs
 * through the driver to a Unix socket that keeps the raw bytes, which are then replayed into
 * the receiver. `JINAD_WRITE_FIXTURE=1` saves the capture as test/fixtures/logs/docker-fluentd.bin,
 * which the fast suite replays into a daemon (test/security/logs.test.ts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { addFile, createPack } from '../../src/backend/docker/tar.ts';
import { docker, LABEL } from '../../test/docker.ts';
import { removeLabelled } from '../../test/helpers.ts';
import { type Entry, ForwardReceiver } from './receiver.ts';

/** The tag the fixture is captured with: as long as a real `jinad.<workspace>.<pod>` tag, so a replay can put real ids in its place. */
export const FIXTURE_TAG = 'jinad.jworkspace-00000000-0000-4000-8000-000000000000.jpod-00000000-0000-4000-8000-000000000000';
const instance = `test-driver-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'jinad-driver-'));
after(async () => {
  await removeLabelled(instance);
  rmSync(dir, { recursive: true, force: true });
});

const LONG = 40_000; // over Docker's 16 KiB: sent as partial messages
const script = `echo first line; echo to stderr >&2; head -c ${LONG} /dev/zero | tr '\\0' x; echo; printf 'no newline at the end'; sleep 0.2; echo; echo last line`;

describe("Docker's fluentd driver", () => {
  it('sends Message mode with EventTime (nanoseconds), partial messages for long lines, and the receiver reads exactly that', async () => {
    const tag = `jinad-driver-test:${instance}`;
    const pack = createPack();
    const added = Promise.all([addFile(pack, 'busybox', readFileSync('/bin/busybox'), 0o755), addFile(pack, 'Dockerfile', `FROM scratch\nCOPY busybox /bin/busybox\nLABEL ${LABEL.instance}=${instance}\n`)]).then(() => pack.finalize());
    await docker.buildImage({ context: pack, tag, labels: { [LABEL.instance]: instance } });
    await added;

    // The capture: every byte the driver sends, as it sends them.
    mkdirSync(path.join(dir, 'run'), { mode: 0o700 });
    const socket = path.join(dir, 'run', 'capture.sock');
    const chunks: Buffer[] = [];
    let seen = '';
    let done: () => void;
    const last = new Promise<void>((r) => (done = r));
    const capture = net.createServer((s) =>
      s.on('data', (b) => {
        chunks.push(b);
        seen += b.toString('latin1');
        if (seen.includes('last line')) done();
      }),
    );
    await new Promise<void>((r) => capture.listen(socket, r));
    try {
      await docker.runContainer({
        name: `jinad-driver-${instance}`,
        image: tag,
        entrypoint: ['/bin/busybox', 'sh', '-c', script],
        labels: { [LABEL.instance]: instance },
        publishHost: '127.0.0.1',
        logConfig: { type: 'fluentd', config: { 'fluentd-address': `unix://${socket}`, 'fluentd-async': 'true', 'fluentd-sub-second-precision': 'true', tag: FIXTURE_TAG } },
      });
      await last;
    } finally {
      capture.close();
    }
    const bytes = Buffer.concat(chunks);
    if (process.env.JINAD_WRITE_FIXTURE) writeFileSync(path.join(import.meta.dirname, '../../test/fixtures/logs/docker-fluentd.bin'), bytes);

    // Replayed, byte for byte, into the receiver.
    const got: Entry[] = [];
    const rx = new ForwardReceiver((e) => got.push(e));
    const rxSocket = path.join(dir, 'rx', 'logs.sock');
    await rx.listenSocket(rxSocket);
    try {
      const s = net.connect(rxSocket);
      await new Promise((r) => s.once('connect', r));
      s.end(bytes);
      for (let i = 0; i < 200 && !got.some((e) => e.record.log === 'last line'); i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await rx.close();
    }
    assert.ok(got.every((e) => e.tag === FIXTURE_TAG));
    // Each stream in its order (stdout and stderr are read apart: either may come first).
    const stdout = got.filter((e) => e.record.source === 'stdout').map((e) => String(e.record.log));
    assert.equal(stdout[0], 'first line');
    assert.equal(stdout.at(-1), 'last line');
    assert.ok(stdout.includes('no newline at the end'), stdout.map((l) => l.slice(0, 30)).join(' | '));
    assert.deepEqual(got.filter((e) => e.record.source === 'stderr').map((e) => e.record.log), ['to stderr']);
    // EventTime: seconds now, and nanoseconds that are not all whole seconds.
    assert.ok(got.every((e) => Math.abs(e.epoch - Date.now() / 1000) < 120), 'times are now');
    assert.ok(got.some((e) => e.nano > 0 && e.nano % 1_000_000 !== 0), 'sub-second precision to the nanosecond');
    // The long line comes in parts, the last one marked.
    const parts = got.filter((e) => e.record.partial_message === 'true');
    assert.ok(parts.length >= 3, `the ${LONG}-byte line in parts (${parts.length})`);
    assert.ok(parts.some((e) => e.record.partial_last === 'true'));
    assert.equal(parts.filter((e) => /^x+$/.test(String(e.record.log))).reduce((n, e) => n + String(e.record.log).length, 0), LONG);
    assert.equal(typeof parts[0]!.record.partial_id, 'string');
    assert.ok(got.every((e) => typeof e.record.container_id === 'string'));
  });
});
