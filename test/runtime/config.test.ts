/** Flow YAML errors name the file, the field and what was expected. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefinitionError, parseFlow } from '../../src/runtime/config.ts';
import { fixture } from './helpers.ts';

const parse = (yaml: string, env: Record<string, string> = {}) => parseFlow(yaml, { where: 'flow.yml', dir: fixture('.'), env });
const E = 'executors:\n  - name: a\n    uses: Tagger\n    py_modules: [executors.ts]\n';

describe('Flow YAML', () => {
  it('reads Jina 2 syntax', () => {
    const f = parse(`jtype: Flow\nversion: '1'\nwith:\n  protocol: websocket\n  port_expose: 12345\n  title: T\n  cors: true\n  expose_endpoints:\n    /foo:\n      methods: [GET]\n${E}    replicas: 2\n    env: {A: 1}\n  - name: b\n    needs: [a]\n`);
    assert.equal(f.protocol, 'websocket');
    assert.equal(f.portExpose, 12345);
    assert.deepEqual(f.exposeEndpoints, { '/foo': { methods: ['GET'] } });
    assert.equal(f.executors[0]!.replicas, 2);
    assert.deepEqual(f.executors[0]!.env, { A: '1' });
    assert.deepEqual(f.executors[1]!.uses, { kind: 'passthrough' });
    assert.deepEqual(f.executors[1]!.needs, ['a']);
  });
  it('reads `!Flow` tags, `pods:` and `parallel` from older files, and duplicate keys as PyYAML does', () => {
    const f = parse('!Flow\npods:\n  - name: a\n    parallel: 3\n    parallel: 2\n');
    assert.equal(f.executors[0]!.replicas, 2);
  });
  it('substitutes env inside strings and types whole values', () => {
    const f = parse(`with:\n  port_expose: \${{ ENV.P }}\n${E}    uses_with:\n      greeting: hi-\${{ENV.W}}\n`, { P: '2345', W: 'there' });
    assert.equal(f.portExpose, 2345);
    assert.deepEqual(f.executors[0]!.usesWith, { greeting: 'hi-there' });
  });
  const bad: [string, string, RegExp][] = [
    ['broken YAML', 'executors: [a\n', /flow\.yml: invalid YAML at line/],
    ['unknown env', `with:\n  port_expose: \${{ ENV.NOPE_X }}\n`, /flow\.yml: with\.port_expose: environment variable NOPE_X is not set/],
    ['wrong jtype', 'jtype: Pod\n', /flow\.yml: jtype: expected 'Flow'/],
    ['bad port', 'with:\n  port_expose: 99999\n', /with\.port_expose: expected a port number \(1-65535\), got 99999/],
    ['unknown protocol', 'with:\n  protocol: thrift\n', /with\.protocol: expected 'http', 'websocket' or 'grpc'/],
    ['bad replicas', `${E}    replicas: two\n`, /executors\[0\]\.replicas: expected a positive integer, got "two"/],
    ['mixed modules', 'executors:\n  - name: a\n    uses: Enc\n    py_modules: [enc.py, executors.ts]\n', /executors\[0\]\.py_modules: mixes Python and TypeScript\/JavaScript modules/],
    ['not a module', 'executors:\n  - name: a\n    uses: Enc\n    py_modules: [enc.rb]\n', /executors\[0\]\.py_modules: 'enc\.rb' is not a Python, TypeScript or JavaScript file/],
    ['class without module', 'executors:\n  - name: a\n    uses: Enc\n', /executors\[0\]\.uses: 'Enc' is a class name; list the file that defines it in py_modules/],
    ['hub executor', 'executors:\n  - uses: jinahub+docker://Sentencizer\n', /executors\[0\]\.uses: .*need a container registry/],
    ['duplicate name', `${E}${E.replace('executors:\n', '')}`, /executors\[1\]\.name: 'a' is used twice/],
    ['unknown needs', `${E}    needs: [zz]\n`, /executors\[0\]\.needs: 'zz' is not an executor defined before 'a'/],
    ['executor yaml missing', 'executors:\n  - uses: nothere.yml\n', /nothere\.yml: file not found/],
    ['not a mapping', '- a\n- b\n', /flow\.yml: expected a mapping at the top level/],
  ];
  it('Python modules make a Python executor; where the image has no Python they are refused, saying how to add it', () => {
    const yaml = 'executors:\n  - name: a\n    uses: Enc\n    py_modules: [enc.py]\n  - name: b\n    uses: {jtype: Enc, metas: {py_modules: null}}\n    py_modules: enc.py\n';
    const f = parse(yaml);
    assert.equal(f.executors[0]!.uses.kind === 'class' && f.executors[0]!.uses.python, true);
    assert.equal(f.executors[1]!.uses.kind === 'class' && f.executors[1]!.uses.python, true);
    assert.throws(
      () => parseFlow(yaml, { where: 'flow.yml', dir: fixture('.'), env: {}, python: false }),
      /executors\[0\]\.py_modules: 'enc\.py' is a Python module; this workspace has no Python: add a requirements\.txt or `python = 3` to \.jinad/,
    );
  });
  for (const [what, yaml, message] of bad) {
    it(`fails clearly on ${what}`, () => assert.throws(() => parse(yaml), (e: Error) => e instanceof DefinitionError && message.test(e.message)));
  }
});
