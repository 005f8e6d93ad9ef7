import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Writable } from 'node:stream';
import * as wsModule from 'ws';

import { textFrames } from './routes.ts';

/** ws's frame parser (its ESM entry exports it; its types do not). */
const { Receiver } = wsModule as unknown as { Receiver: new (options: { isServer: boolean }) => Writable };

describe('a log follower’s WebSocket frames', () => {
  it('are text frames a WebSocket client reads back line for line, at every length form (7, 16 and 64 bits)', async () => {
    const lines = ['', 'a', 'x'.repeat(125), 'y'.repeat(126), 'é✓𝄞'.repeat(20), 'z'.repeat(65_535), 'w'.repeat(65_536), 'v'.repeat(200_000)];
    // A client's receiver: it requires frames unmasked from a server, and checks UTF-8.
    const receiver = new Receiver({ isServer: false });
    const got: string[] = [];
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, false);
      got.push(data.toString());
    });
    const frames = textFrames(lines);
    await new Promise<void>((resolve, reject) => {
      receiver.on('error', reject);
      receiver.write(frames, () => resolve());
    });
    assert.deepEqual(got, lines);
  });
});
