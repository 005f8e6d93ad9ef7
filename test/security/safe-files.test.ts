/**
 * The work directory is hostile ground: reads of a user's files refuse links, folders swapped for
 * links, paths out of the workspace, non-regular files and oversize files — and say so without
 * quoting a file the user was not given. The vectors are planted here as a container would.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DefinitionError, executorSpec, loadFlow, parseFlow } from '../../src/runtime/config.ts';
import { readInside, resolveInside, UnsafePathError } from '../../src/runtime/safe-files.ts';

const SECRET = `SECRET-${process.pid}-${Date.now()}`;
function setup() {
  const base = mkdtempSync(path.join(tmpdir(), 'jinad-hostile-'));
  const host = path.join(base, 'host');
  const ws = path.join(base, 'ws');
  mkdirSync(host);
  mkdirSync(ws);
  writeFileSync(path.join(host, 'secret.yml'), `jtype: ${SECRET}\nexecutors:\n  - name: ${SECRET}\n`);
  writeFileSync(path.join(ws, 'ok.yml'), 'executors:\n  - name: fine\n');
  symlinkSync(path.join(host, 'secret.yml'), path.join(ws, 'link.yml'));
  symlinkSync(host, path.join(ws, 'linkdir'));
  return { base, host, ws };
}
const refuses = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, new RegExp(SECRET));
    return true;
  });

describe('safe reads of a workspace', () => {
  it('reads a regular file inside; refuses links, linked folders, escapes, FIFOs and oversize files', () => {
    const { ws, host } = setup();
    assert.match(readInside(ws, 'ok.yml'), /fine/);
    refuses(() => readInside(ws, 'link.yml'), /'link\.yml' is a symlink/);
    refuses(() => readInside(ws, 'linkdir/secret.yml'), /leads outside the workspace/);
    refuses(() => readInside(ws, '../host/secret.yml'), /must be a path inside the workspace/);
    refuses(() => readInside(ws, path.join(host, 'secret.yml').slice(1)), /not found|inside/);
    refuses(() => resolveInside(ws, '/etc/passwd'), /is absolute/);
    execFileSync('mkfifo', [path.join(ws, 'pipe')]);
    refuses(() => readInside(ws, 'pipe'), /not a regular file/);
    writeFileSync(path.join(ws, 'big.yml'), 'x'.repeat(2000));
    refuses(() => readInside(ws, 'big.yml', { maxBytes: 1000 }), /larger than 1000 bytes/);
    assert.ok(new UnsafePathError('x') instanceof Error);
  });

  it('a Flow YAML read for a workspace is confined: links, escaping uses and py_modules are refused without their content', () => {
    const { ws, host } = setup();
    const c = { root: ws };
    refuses(() => loadFlow(path.join(ws, 'link.yml'), {}, c), /link\.yml' is a symlink/);
    refuses(() => loadFlow(path.join(ws, 'linkdir', 'secret.yml'), {}, c), /leads outside the workspace/);
    const entry = (uses: string, py_modules?: string[]) => () => executorSpec({ uses, py_modules }, { dir: ws, where: 'pod arguments', env: {}, root: ws });
    refuses(entry(path.join(host, 'secret.yml')), /pod arguments: uses: '.*secret\.yml' must be a path inside the workspace/);
    refuses(entry('../host/secret.yml'), /must be a path inside the workspace/);
    refuses(entry('link.yml'), /is a symlink/);
    refuses(entry('Cls', ['../../etc/x.ts']), /py_modules: '\.\.\/\.\.\/etc\/x\.ts' must be a path inside the workspace/);
    refuses(() => parseFlow(`executors:\n  - uses: ${path.join(host, 'secret.yml')}\n`, { where: 'f.yml', dir: ws, root: ws }), /must be a path inside the workspace/);
    // Unconfined (a local run of the user's own files), the same paths are the user's to name.
    assert.equal(loadFlow(path.join(ws, 'ok.yml')).executors[0]!.name, 'fine');
  });

  it('a YAML alias bomb (billion laughs) is a clear error, not an expansion', () => {
    const lol = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) lol.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    assert.throws(() => parseFlow(`${lol.join('\n')}\nexecutors: []\n`, { where: 'bomb.yml', dir: '/tmp' }), (e: Error) => e instanceof DefinitionError && /bomb\.yml: cannot be read: Excessive alias count/.test(e.message));
  });
});
