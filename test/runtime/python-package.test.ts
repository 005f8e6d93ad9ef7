/** The `jina` package's own unit tests (test/python), run with Debian's python3 as `python3 -m unittest`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('python3 -m unittest passes for the jina package', () => {
  const r = spawnSync(process.env.JINAD_PYTHON ?? '/usr/bin/python3', ['-m', 'unittest', 'discover', '-s', 'test/python', '-v'], {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: 'src/runtime/python', PYTHONDONTWRITEBYTECODE: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /Ran \d+ tests/);
});
