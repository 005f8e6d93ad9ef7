// The TypeScript loader's compile cache (src/runtime/ts-loader.mjs) lives in the temporary folder,
// which on a host is shared: the bundled daemon loads jinad.config.ts through it, as root. A cache
// folder someone else made (and filled) must not be used.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const loader = fileURLToPath(new URL('../../src/runtime/ts-loader.mjs', import.meta.url));
const node = 'deno' in process.versions ? 'node' : process.execPath;
const root = process.getuid?.() === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'jinad-ts-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Import `file` in a fresh Node with the loader, TMPDIR set to `tmp`; what its default export is. */
const importWith = (tmp: string, file: string) =>
  execFileSync(node, ['--import', `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(`file://${loader}`)});`, '-e', `import(${JSON.stringify(`file://${file}`)}).then((m) => console.log(m.default))`], {
    env: { ...process.env, TMPDIR: tmp },
    encoding: 'utf8',
  }).trim();

describe("the TypeScript loader's cache", () => {
  it("is used when it is the user's own, and ignored when someone else made it", { skip: !root && 'needs root (to make a folder owned by another user)' }, () => {
    const file = path.join(dir, 'config.ts');
    const source = 'const n: number = 1;\nexport default `genuine ${n}`;\n';
    writeFileSync(file, source);

    // Its own cache: the compiled file is kept.
    const own = path.join(dir, 'own');
    mkdirSync(own);
    assert.equal(importWith(own, file), 'genuine 1');
    assert.equal(readdirSync(path.join(own, `jinad-ts-${process.getuid!()}`)).length, 1);

    // A cache folder another user made, holding a planted "compiled" file under the right key.
    const shared = path.join(dir, 'shared');
    const planted = path.join(shared, `jinad-ts-${process.getuid!()}`);
    mkdirSync(planted, { recursive: true });
    const key = createHash('sha256').update(file).update('\0').update(source).update('\0').update('').digest('hex');
    writeFileSync(path.join(planted, `${key}.mjs`), 'export default "planted";\n');
    chownSync(planted, 12345, 12345);
    assert.equal(importWith(shared, file), 'genuine 1');
    assert.deepEqual(readdirSync(planted), [`${key}.mjs`], 'nothing written there either');
  });
});
