/** The request log: a line per request while quiet; under load ten a second, the rest summed up. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LINES_PER_SECOND, RequestLog } from '../../src/runtime/request-log.ts';

describe('request log', () => {
  it('logs the first requests of a second one by one and sums up the rest when the second ends', async () => {
    const lines: string[] = [];
    const log = new RequestLog((l) => lines.push(l));
    for (let i = 0; i < 25; i++) log.record(i % 2 ? 'POST /index → /index' : 'gRPC Call → /search', 3, i, i === 20 ? 'boom' : undefined);
    assert.equal(lines.length, LINES_PER_SECOND);
    assert.match(lines[0]!, /^gRPC Call → \/search: 3 docs, ok in 0\.0 ms$/);
    // No request after the burst: the summary still comes, by the end of the second.
    for (let i = 0; i < 40 && lines.length === LINES_PER_SECOND; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(lines.length, LINES_PER_SECOND + 1);
    assert.equal(lines.at(-1), '… and 15 more requests in that second (gRPC Call → /search: 8, POST /index → /index: 7): 45 docs, 1 ERROR, slowest 24.0 ms');
    // The next second starts afresh, one line per request.
    log.record('POST /index → /index', 1, 2.5, 'bad input');
    assert.equal(lines.at(-1), 'POST /index → /index: 1 docs, ERROR bad input in 2.5 ms');
  });

  it('says what it held back when flushed (the gateway closing), and nothing when nothing was', () => {
    const lines: string[] = [];
    const log = new RequestLog((l) => lines.push(l));
    log.flush();
    assert.deepEqual(lines, []);
    for (let i = 0; i < LINES_PER_SECOND + 2; i++) log.record('POST /post → /index', 1, 1);
    log.flush();
    assert.match(lines.at(-1)!, /^… and 2 more requests in that second \(POST \/post → \/index: 2\): 2 docs, all ok, slowest 1\.0 ms$/);
    log.flush();
    assert.equal(lines.length, LINES_PER_SECOND + 1);
  });
});
