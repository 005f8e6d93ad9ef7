import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JinadFileError, parseJinadFile } from './jinadfile.ts';

describe('.jinad parsing', () => {
  it('reads the documented keys', () => {
    const { file, warnings } = parseJinadFile('ports = 45678, 45679,\nrun = "node app.js 45678"\njina = 2.1.0\ngpus = all\n; a comment\n# another\n');
    assert.deepEqual(file, { ports: [45678, 45679], run: 'node app.js 45678', jina: '2.1.0', gpus: { count: -1 } });
    assert.deepEqual(warnings, []);
  });
  it('reads a restart policy for the run container', () => {
    assert.deepEqual(parseJinadFile('run = sleep 9\nrestart = on-failure:3\n').file.restart, { name: 'on-failure', max: 3 });
    assert.deepEqual(parseJinadFile('restart = always\n').file.restart, { name: 'always' });
  });
  it('accepts an unquoted run (the original silently ignored it)', () => {
    assert.equal(parseJinadFile('run = node app.js --port 1').file.run, 'node app.js --port 1');
  });
  it('accepts build for compatibility (with a warning), and python (the workspace gets Python)', () => {
    const { file, warnings } = parseJinadFile('build = devel\npython = 3.7\ndockerfile = default\n');
    assert.deepEqual([file.build, file.python, file.dockerfile], ['devel', '3.7', undefined]);
    assert.equal(warnings.length, 1); // build (dockerfile = default is the default, silently)
  });
  it('reads placement constraints for a Swarm', () => {
    assert.deepEqual(parseJinadFile('constraints = node.labels.gpu == true, node.role!=manager\n').file.constraints, ['node.labels.gpu==true', 'node.role!=manager']);
  });
  it('warns on unknown keys and sections', () => {
    const { warnings } = parseJinadFile('colour = blue\n[extra]\nx = 1\n');
    assert.match(warnings.join('\n'), /unknown key 'colour'/);
    assert.match(warnings.join('\n'), /section \[extra\]/);
  });
  const bad: [string, string][] = [
    ['ports = 80, abc', 'ports'],
    ['ports = 70000', 'ports'],
    ['ports', 'ports'],
    ['run =', 'run'],
    ['jina = 3.0.0', 'jina'],
    ['jina = banana split', 'jina'],
    ['gpus = lots of them', 'gpus'],
    ['build = fast', 'build'],
    ['python = 2.7', 'python'],
    ['dockerfile = ../Dockerfile', 'dockerfile'],
    ['dockerfile = /etc/Dockerfile', 'dockerfile'],
    ['restart = sometimes', 'restart'],
    ['constraints = gpu', 'constraints'],
    ['constraints = node.labels.gpu==true, rm -rf', 'constraints'],
  ];
  for (const [source, key] of bad) {
    it(`fails '${source}' naming '${key}'`, () => {
      assert.throws(
        () => parseJinadFile(source),
        (err: unknown) => err instanceof JinadFileError && err.key === key && err.message.includes(`'${key}'`),
      );
    });
  }
});
