import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Document, DocumentArray } from '../../src/runtime/document.ts';

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
});
