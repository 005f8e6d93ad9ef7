import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Document, DocumentArray } from '../../src/runtime/document.ts';
import { Executor, handlerFor, requests, withMetas } from '../../src/runtime/executor.ts';

describe('Documents', () => {
  it('generate a 32-hex id, accept snake_case, put unknown keys in tags (as Jina 2 HTTP does)', () => {
    const d = new Document({ text: 'x', mime_type: 'text/plain', colour: 'red' } as never);
    assert.match(d.id, /^[0-9a-f]{32}$/);
    assert.equal(d.mimeType, 'text/plain');
    assert.deepEqual(d.tags, { colour: 'red' });
    assert.deepEqual(d.toJSON(), { id: d.id, text: 'x', mimeType: 'text/plain', tags: { colour: 'red' } });
  });
  it('keep nested chunks and matches as documents', () => {
    const d = new Document({ id: 'p', chunks: [{ id: 'c', text: 'chunk' }], matches: [{ id: 'm', scores: { cosine: { value: 0.1 } } }] });
    assert.equal(d.chunks.get('c')?.text, 'chunk');
    assert.equal(d.toJSON().matches?.[0]?.scores?.cosine?.value, 0.1);
  });
  it('DocumentArray: iterate, get, filter, append, sort by score', () => {
    const da = new DocumentArray([{ id: 'a', scores: { s: { value: 1 } } }, 'text', { id: 'c', scores: { s: { value: 3 } } }]);
    assert.equal(da.length, 3);
    assert.equal(da.get('a')?.id, 'a');
    assert.equal([...da].length, 3);
    assert.equal(da.filter((d) => d.text === 'text').length, 1);
    da.append({ id: 'd', scores: { s: { value: 2 } } });
    assert.deepEqual(da.sortByScore('s').map((d) => d.id).slice(0, 3), ['c', 'd', 'a']);
  });
  it('match finds nearest neighbours by embedding', () => {
    const index = new DocumentArray([
      { id: 'east', embedding: [1, 0] },
      { id: 'north', embedding: [0, 1] },
      { id: 'northeast', embedding: [1, 1] },
    ]);
    const q = new DocumentArray([{ id: 'q', embedding: [0.9, 0.1] }]).match(index, { limit: 2 });
    assert.deepEqual(q.at(0)!.matches.map((m) => m.id), ['east', 'northeast']);
    assert.equal(q.at(0)!.matches.at(0)!.scores.cosine!.refId, 'q');
    const e = new DocumentArray([{ id: 'q', embedding: [0, 0] }]).match(index, { metric: 'euclidean', limit: 1 });
    assert.equal(e.at(0)!.matches.at(0)!.scores.euclidean!.value, 1);
  });
  it('DocumentArray as Jina users write it: an Array with texts, embeddings, tags, traverseFlat', () => {
    const da = new DocumentArray([
      { id: 'a', text: 'alpha', embedding: [1, 0], tags: { k: 1 }, chunks: [{ id: 'a.c', text: 'chunk', chunks: [{ id: 'a.c.c' }] }], matches: [{ id: 'a.m' }] },
      { id: 'b', text: 'beta', embedding: [0, 1] },
    ]);
    assert.equal(da[0]!.id, 'a');
    assert.equal(da.length, 2);
    assert.ok(Array.isArray(da));
    assert.deepEqual([...da].map((d) => d.id), ['a', 'b']);
    assert.deepEqual([...da, ...da].length, 4);
    assert.deepEqual(da.map((d) => d.text), ['alpha', 'beta']);
    assert.ok(da.some((d) => d.id === 'b') && da.every((d) => d.embedding));
    assert.equal(da.find((d) => d.text === 'beta')?.id, 'b');
    assert.equal(da.slice(1)[0]!.id, 'b');
    assert.ok(da.filter((d) => d.id === 'a') instanceof DocumentArray);
    assert.deepEqual(da.texts, ['alpha', 'beta']);
    assert.deepEqual(da.embeddings, [[1, 0], [0, 1]]);
    assert.deepEqual(da.tags, [{ k: 1 }, {}]);
    da.texts = ['A', 'B'];
    da.embeddings = [[2, 0], [0, 2]];
    assert.deepEqual([da[0]!.text, da[1]!.embedding], ['A', [0, 2]]);
    assert.throws(() => (da.texts = ['only one']), /expected 2 values/);
    assert.deepEqual(da.traverseFlat('r,c,m').map((d) => d.id), ['a', 'b', 'a.c', 'a.m']);
    assert.deepEqual(da.traverseFlat(['cc']).map((d) => d.id), ['a.c.c']);
    assert.throws(() => da.traverseFlat('x'), /traversal path 'x'/);
    da.push({ id: 'c', text: 'pushed' });
    assert.ok(da[2] instanceof Document);
    assert.throws(() => new DocumentArray([{ id: 'n' }]).embeddings, /has no embedding/);
  });
  it('JSON round trip with the field names of Jina 2 HTTP (snake_case accepted on input)', () => {
    const input = { id: 'x', text: 't', blob: [0.5, 1], uri: 'data:,x', mime_type: 'text/plain', parent_id: 'p', granularity: 1, adjacency: 2, embedding: [0.1], scores: { s: { value: 1 } }, tags: { a: 'b' } };
    const doc = new Document(input as never);
    const json = JSON.parse(JSON.stringify(new DocumentArray([doc])))[0];
    assert.deepEqual(json, { id: 'x', text: 't', blob: [0.5, 1], uri: 'data:,x', mimeType: 'text/plain', tags: { a: 'b' }, embedding: [0.1], scores: { s: { value: 1 } }, granularity: 1, adjacency: 2, parentId: 'p' });
    assert.deepEqual(new Document(json).toJSON(), json);
  });
});

describe('@requests', () => {
  it("takes Jina's keyword form { on } as well as an endpoint or a list", () => {
    class E extends Executor {
      @requests({ on: '/index' })
      index() {
        return 'index';
      }
      @requests({ on: ['/a', '/b'] })
      ab() {
        return 'ab';
      }
      @requests('/search')
      search() {
        return 'search';
      }
    }
    const e = withMetas({ name: 'e', workspace: '/tmp', replicaId: 0, replicas: 1 }, () => new E());
    const call = (endpoint: string) => handlerFor(e, endpoint)?.({ docs: new DocumentArray(), parameters: {}, endpoint });
    assert.deepEqual(['/index', '/a', '/b', '/search'].map(call), ['index', 'ab', 'ab', 'search']);
  });
});
