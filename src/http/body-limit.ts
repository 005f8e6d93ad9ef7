/**
 * Every request body but an upload's (multipart, bounded by its own limits as it streams to
 * disk) is bounded before anything reads it: a declared length over the limit is refused at
 * once, a body without one (chunked) is read here against the limit. A refused body is read to
 * its end and thrown away, so the client, still sending, gets to read the 413; memory stays flat.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { fail } from '../errors.ts';

async function discard(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  while (!(await reader.read()).done);
}

export function boundedBodies(maxBytes: number): MiddlewareHandler {
  const refuse = async (c: Context, reader: ReadableStreamDefaultReader<Uint8Array>) => {
    await discard(reader);
    c.header('connection', 'close');
    throw fail('body_too_large', `a request body may have at most ${maxBytes} bytes (limits.jsonBytes)`);
  };
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body || /^multipart\//i.test(c.req.header('content-type') ?? '')) return next();
    const declared = Number(c.req.header('content-length'));
    if (declared > maxBytes) return refuse(c, body.getReader());
    if (Number.isFinite(declared)) return next(); // the server reads no more than that
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) return refuse(c, reader);
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}
