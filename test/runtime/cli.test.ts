/** `jinad flow --uses flow.yml` runs in the foreground, logs each request, and closes executors on SIGTERM. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers.ts';
import { fixture, post } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../src/runtime/bin.mjs', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: fixture('.'), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const waitFor = async (re: RegExp, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${re} in: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  return { child, waitFor, exited, output: () => out };
}

describe('jinad CLI', () => {
  it('flow: serves, logs each request with timing, closes executors on SIGTERM', async () => {
    const port = await freePort();
    const marker = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-cli-')), 'closed');
    const cli = run(['flow', '--uses', 'closer.yml', '--port-expose', String(port)], { CLOSED_MARKER: marker });
    await cli.waitFor(/Flow ready: http:\/\/0\.0\.0\.0:\d+ \(closer\)/);
    await post(port, '/index', { data: ['a', 'b'] });
    await cli.waitFor(/POST \/index → \/index: 2 docs, ok in [\d.]+ ms/);
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
    assert.equal(readFileSync(marker, 'utf8'), 'closed');
  });

  it('pod: replicas behind a head on --port-in', async () => {
    const port = await freePort();
    const cli = run(['pod', '--uses', 'ReplicaTagger', '--py-modules', 'executors.ts', '--replicas', '2', '--port-in', String(port)]);
    await cli.waitFor(new RegExp(`pod executor0 ready on port ${port} \\(2 replica\\(s\\)\\)`));
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 0);
  });

  it('a bad Flow file exits 1 with the named-field message', async () => {
    const cli = run(['flow', '--uses', 'missing-module.yml']);
    assert.equal(await cli.exited, 1);
    assert.match(cli.output(), /jinad: broken: can not find executor_ex\.ts/);
    assert.equal(existsSync(fixture('broken')), false);
  });
});
