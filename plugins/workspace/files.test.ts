import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makeZip } from '../../test/helpers.ts';
import { checkZip, extractZip, safeRelative, writeInside } from './files.ts';

const limits = { files: 100, bytes: 1_000_000 };
/** Archives are checked from disk, as uploads are staged. */
const onDisk = (zip: Buffer) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-zipfile-')), 'a.zip');
  writeFileSync(file, zip);
  return file;
};
const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { status?: number }).status;
  }
  return 200;
};

describe('upload names', () => {
  it('keeps safe relative names, sub-folders included', () => {
    assert.equal(safeRelative('flow.yml'), 'flow.yml');
    assert.equal(safeRelative('sub/./dir//exec.ts'), 'sub/dir/exec.ts');
  });
  const long = 'x'.repeat(5000);
  const deep = Array.from({ length: 25 }, () => 'y'.repeat(200)).join('/');
  for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'C:/x', 'a\\..\\x', '', '.', 'logging.log', 'logs/jflow-1/logging.log', 'a\0b', long, deep, 'bad\uFFFDname', 'two\r\nlines.txt', 'tab\there', 'bell\u0007']) {
    it(`refuses '${bad.slice(0, 40)}' with 400`, () => assert.equal(status(() => safeRelative(bad)), 400));
  }
});

it('a control character in a name is named in the refusal', () => {
  assert.throws(() => safeRelative('two\r\nlines.txt'), /contains a control character \(U\+000D\)/);
});

describe('zip archives', () => {
  it('lists and extracts a normal archive, folders kept', async () => {
    const zip = makeZip([{ name: 'dir/' }, { name: 'dir/a.txt', data: 'A' }, { name: 'b.txt', data: 'B' }]);
    assert.deepEqual(await checkZip(onDisk(zip), 'w.zip', limits), ['dir/a.txt', 'b.txt']);
    const wd = mkdtempSync(path.join(tmpdir(), 'jinad-zip-'));
    const zipFile = path.join(wd, '..', `${path.basename(wd)}.zip`);
    writeFileSync(zipFile, zip);
    assert.deepEqual(await extractZip(zipFile, wd), ['dir/a.txt', 'b.txt']);
    assert.equal(readFileSync(path.join(wd, 'dir/a.txt'), 'utf8'), 'A');
  });
  const cases: [string, Parameters<typeof makeZip>[0], number][] = [
    ['zip-slip ../', [{ name: '../../evil.sh', data: 'x' }], 400],
    ['absolute entry', [{ name: '/tmp/evil.sh', data: 'x' }], 400],
    ['symlink entry', [{ name: 'link', data: '/etc', mode: 0o120777 }], 400],
    ['reserved name', [{ name: 'logging.log', data: 'x' }], 400],
    ['too many files', Array.from({ length: 101 }, (_, i) => ({ name: `f${i}`, data: 'x' })), 413],
    ['expands too much', [{ name: 'big', data: Buffer.alloc(1_000_001) }], 413],
    ['a header that lies about the size', [{ name: 'liar', data: Buffer.alloc(5000, 1), deflate: true, declaredSize: 1000 }], 400],
    ['a header that hides an expansion past the limit', [{ name: 'bomb', data: Buffer.alloc(2_000_000), deflate: true, declaredSize: 10 }], 400],
    ['a name too long for the filesystem', [{ name: 'z'.repeat(300), data: 'x' }], 400],
  ];
  for (const [what, entries, code] of cases) {
    it(`refuses ${what} with ${code}`, async () => {
      await assert.rejects(checkZip(onDisk(makeZip(entries)), 'bad.zip', limits), (err: { status?: number }) => err.status === code);
    });
  }
  it('refuses a file that is not a zip', async () => {
    await assert.rejects(checkZip(onDisk(Buffer.from('not a zip')), 'x.zip', limits), (err: { status?: number }) => err.status === 400);
  });
  it('a compressed archive extracts as it checks', async () => {
    const file = onDisk(makeZip([{ name: 'c.txt', data: 'compressed '.repeat(100), deflate: true }]));
    assert.deepEqual(await checkZip(file, 'c.zip', limits), ['c.txt']);
    const wd = mkdtempSync(path.join(tmpdir(), 'jinad-zip-'));
    await extractZip(file, wd);
    assert.equal(readFileSync(path.join(wd, 'c.txt'), 'utf8'), 'compressed '.repeat(100));
  });
});

describe('writing inside the workdir', () => {
  it('never writes through a symlink left in the workdir', async () => {
    const wd = mkdtempSync(path.join(tmpdir(), 'jinad-wd-'));
    const outside = mkdtempSync(path.join(tmpdir(), 'jinad-out-'));
    symlinkSync(outside, path.join(wd, 'escape'));
    await assert.rejects(writeInside(wd, 'escape/x.txt', Buffer.from('x')), (err: { status?: number }) => err.status === 400);
    symlinkSync(path.join(outside, 'target'), path.join(wd, 'file-link'));
    await assert.rejects(writeInside(wd, 'file-link', Buffer.from('x')));
    assert.equal(existsSync(path.join(outside, 'x.txt')), false);
    assert.equal(existsSync(path.join(outside, 'target')), false);
    mkdirSync(path.join(wd, 'ok'));
    await writeInside(wd, 'ok/y.txt', Buffer.from('y'));
    assert.equal(readFileSync(path.join(wd, 'ok/y.txt'), 'utf8'), 'y');
  });
});
