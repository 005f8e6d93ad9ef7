import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MalformedIdError, daemonize, newId, parseDaemonId } from '../src/contract/ids.ts';

const U = '480ec0d8-2b5c-4c4e-9a36-7d5bd2c1d0a1';

describe('DaemonID', () => {
  it('accepts every uuid spelling Python accepts and normalises it', () => {
    for (const raw of [U, U.toUpperCase(), U.replaceAll('-', ''), `{${U}}`, `urn:uuid:${U}`]) {
      assert.equal(parseDaemonId(`jflow-${raw}`).id, `jflow-${U}`, raw);
    }
  });
  it('gives a bare jtype a fresh uuid4', () => {
    const { id, jtype } = parseDaemonId('jworkspace');
    assert.equal(jtype, 'jworkspace');
    assert.match(id, /^jworkspace-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('rejects what the original rejects', () => {
    for (const bad of [42, 'invalid', `invalid-${U}`, 'jflow-invalid', `jflow-${U}x`, '']) {
      assert.throws(() => parseDaemonId(bad), MalformedIdError, String(bad));
    }
  });
  it('daemonize accepts a bare uuid where the kind is known, and insists on the kind', () => {
    assert.equal(daemonize(U, 'workspace'), `jworkspace-${U}`);
    assert.equal(daemonize(`jworkspace-${U}`, 'workspace'), `jworkspace-${U}`);
    assert.throws(() => daemonize(`jflow-${U}`, 'workspace'), /expected a jworkspace id/);
    assert.throws(() => daemonize('jworkspace', 'workspace'), /no uuid/);
    assert.throws(() => daemonize('../etc', 'workspace'), MalformedIdError);
  });
  it('newId makes ids of the kind', () => {
    assert.match(newId('pea'), /^jpea-[0-9a-f-]{36}$/);
  });
});
