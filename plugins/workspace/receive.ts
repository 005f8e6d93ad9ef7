/**
 * Taking an upload in: the multipart field `files` is streamed part by part to files in a
 * staging folder, never held in memory, with the limits enforced while it streams (bytes of the
 * request, number of files) and each name checked as its part begins. A request that breaks a
 * rule stops being read at once and leaves nothing behind.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Busboy from 'busboy';
import type { Context } from 'hono';
import { DaemonError, fail, invalid } from 'jinad/plugin';
import { safeRelative } from './files.ts';

export interface Received {
  /** The name the client gave. */
  name: string;
  /** That name as a safe relative path in the workspace. */
  rel: string;
  /** Where its bytes are, in the staging folder. */
  file: string;
  size: number;
}

export interface ReceiveLimits {
  uploadBytes: number;
  uploadFiles: number;
}

/** Stream the request's `files` into `dir` (created here; removed again on any failure); other text fields are kept in `fields`. */
export async function receiveUploads(c: Context, dir: string, limits: ReceiveLimits, fields: Record<string, string> = {}): Promise<Received[]> {
  const type = c.req.header('content-type') ?? '';
  const body = c.req.raw.body;
  if (!type.startsWith('multipart/form-data')) {
    if (!body || (await c.req.raw.arrayBuffer()).byteLength === 0) return [];
    throw fail('malformed_body', `expected multipart/form-data with a 'files' field, got '${type || 'no content-type'}'`);
  }
  if (!body) return [];
  let bb: Busboy.Busboy;
  try {
    // Names are UTF-8 (an invalid sequence shows as U+FFFD, refused by safeRelative).
    bb = Busboy({ headers: { 'content-type': type }, defParamCharset: 'utf8', preservePath: true, limits: { files: limits.uploadFiles, fileSize: limits.uploadBytes, fields: 100, fieldSize: 1024 * 1024 } });
  } catch (err) {
    throw fail('malformed_body', `malformed multipart body: ${(err as Error).message}`);
  }
  await mkdir(dir, { recursive: true });
  const received: Received[] = [];
  const writes: Promise<void>[] = [];
  let total = 0;
  let failure: unknown;
  const source = Readable.fromWeb(body as import('node:stream/web').ReadableStream);
  /** Stop storing: the rest of the body is read and discarded, so the client gets the answer (not a reset). */
  const stop = (err: unknown) => {
    failure ??= err;
    source.unpipe(bb);
    source.resume();
  };

  bb.on('file', (field, stream, info) => {
    if (failure || field !== 'files') {
      stream.resume();
      return;
    }
    const name = info.filename ?? '';
    let rel: string;
    try {
      rel = safeRelative(name);
    } catch (err) {
      stream.resume();
      return stop(err);
    }
    const entry: Received = { name, rel, file: path.join(dir, String(received.length)), size: 0 };
    received.push(entry);
    stream.on('data', (chunk: Buffer) => {
      entry.size += chunk.length;
      total += chunk.length;
      if (total > limits.uploadBytes) stop(fail('upload_too_large', `upload larger than ${limits.uploadBytes} bytes`));
    });
    stream.on('limit', () => stop(fail('upload_too_large', `upload larger than ${limits.uploadBytes} bytes`)));
    writes.push(pipeline(stream, createWriteStream(entry.file)).catch((err) => stop(err)));
  });
  bb.on('field', (field, value, info) => {
    if (info.valueTruncated) stop(fail('upload_too_large', `the field '${field}' is larger than 1 MiB`));
    else if (field !== 'files') fields[field] = value;
    if (field === 'files') stop(invalid("the 'files' field must hold files, not text", [{ loc: ['body', 'files'], msg: 'expected a file', type: 'value_error' }]));
  });
  bb.on('filesLimit', () => stop(fail('upload_too_large', `at most ${limits.uploadFiles} files per upload`)));

  try {
    await new Promise<void>((resolve, reject) => {
      bb.once('close', resolve);
      bb.once('error', (err) => stop(fail('malformed_body', `malformed multipart body: ${(err as Error).message}`)));
      source.once('end', () => failure && resolve()); // after a stop: the rest was drained
      source.once('error', (err) => reject(failure ?? err));
      source.pipe(bb);
    });
    await Promise.all(writes);
    if (failure) throw failure;
    return received;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    if (err instanceof DaemonError) throw err;
    throw fail('malformed_body', `the upload could not be read: ${(err as Error).message}`, undefined, err);
  }
}
