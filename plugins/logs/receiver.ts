/**
 * A Fluentd forward-protocol receiver (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1),
 * enough for Docker's fluentd log driver and any Fluentd/Fluent Bit forwarding to it:
 * Message `[tag, time, record, option?]`, Forward `[tag, [[time, record]…], option?]` and
 * PackedForward `[tag, bin, option?]` (gzip-compressed too), EventTime (ext type 0), and acks
 * when the sender asks for one (`option.chunk`).
 *
 * It listens on a Unix socket (one host: only who can open its folder can send) and, where
 * senders come over the network, on TCP with an allow-list of their addresses. A message over
 * `maxMessageBytes` is refused before it is read whole. It tracks its connections so it can
 * close at once: Docker keeps its log connections open for the life of a container.
 */
import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encode } from '@msgpack/msgpack';
import { Incomplete, MsgpackReader, TooLarge } from './msgpack.ts';

export interface Entry {
  tag: string;
  /** The record's own time (the sender's): seconds and nanoseconds. */
  epoch: number;
  nano: number;
  record: Record<string, unknown>;
}

function timeOf(t: unknown): { epoch: number; nano: number } {
  if (typeof t === 'number' && Number.isFinite(t) && t >= 0) return { epoch: Math.floor(t), nano: Math.min(999_999_999, Math.round((t % 1) * 1e9)) };
  if (t && typeof t === 'object' && 'epoch' in t) return t as { epoch: number; nano: number };
  return { epoch: Math.floor(Date.now() / 1000), nano: 0 };
}

/** The entries of one forward-protocol message; a gzip-compressed body may unpack to `maxBytes` at most. */
export function entriesOf(message: unknown, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
  if (!Array.isArray(message) || typeof message[0] !== 'string') return [];
  const [tag, second, third] = message as [string, unknown, unknown];
  if (Array.isArray(second)) {
    return second.filter(Array.isArray).map(([t, record]) => ({ tag, ...timeOf(t), record: recordOf(record) }));
  }
  if (second instanceof Uint8Array) {
    const option = (message[2] ?? {}) as { compressed?: string };
    const bin = option.compressed === 'gzip' ? gunzipSync(second, { maxOutputLength: Math.min(maxBytes, 2 ** 31 - 1) }) : Buffer.from(second.buffer, second.byteOffset, second.byteLength);
    const out: Entry[] = [];
    const reader = new MsgpackReader(maxBytes);
    reader.reset(bin);
    try {
      while (reader.more) {
        const item = reader.value();
        if (Array.isArray(item)) out.push({ tag, ...timeOf(item[0]), record: recordOf(item[1]) });
      }
    } catch (err) {
      throw err instanceof Incomplete ? new Error('a packed body ends inside an entry') : err;
    }
    return out;
  }
  const { epoch, nano } = timeOf(second);
  return [{ tag, epoch, nano, record: recordOf(third) }];
}
const recordOf = (r: unknown) => (r && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : {});

export interface ReceiverLimits {
  /** A connection that sends nothing for this long is closed (a sender reconnects when it has lines again). */
  idleMs?: number;
  /** Connections beyond this many are refused. */
  maxConnections?: number;
  /** A message (or a packed body, unpacked) larger than this is refused and its connection closed. */
  maxMessageBytes?: number;
}

/** Why a connection was closed without its records: said once per connection, for the daemon's own log. */
export type OnRefused = (reason: string, from: string) => void;

export class ForwardReceiver {
  private servers: net.Server[] = [];
  private sockets = new Set<net.Socket>();
  private socketPath: string | undefined;

  constructor(
    private onEntry: (entry: Entry) => void,
    private limits: ReceiverLimits = {},
    private onRefused: OnRefused = () => {},
  ) {}

  private accept(socket: net.Socket, allow?: (address: string) => Promise<boolean>): void {
    this.sockets.add(socket);
    if (this.limits.idleMs) socket.setTimeout(this.limits.idleMs, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const from = socket.remoteAddress ?? 'the Unix socket';
    const max = this.limits.maxMessageBytes ?? 0xffff_ffff;
    const reader = new MsgpackReader(max);
    // What arrived of a message not whole yet, and how many bytes it needs at least before it
    // is read again (a large message is not read again at every chunk).
    let chunks: Buffer[] = [];
    let buffered = 0;
    let needed = 0;
    const refuse = (err: unknown) => {
      if (err instanceof TooLarge || /maxOutputLength|larger than/i.test((err as Error).message)) this.onRefused(`a message was over logs.maxMessageBytes (${max} bytes)`, from);
      socket.destroy(); // not the forward protocol, too large, or a record that cannot be taken
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      buffered += chunk.length;
      if (buffered < needed) return buffered > max ? refuse(new TooLarge()) : undefined;
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      reader.reset(buf);
      let start = 0;
      try {
        while (reader.more) {
          start = reader.pos;
          this.take(socket, reader.value(), max);
        }
        [chunks, buffered, needed] = [[], 0, 0];
      } catch (err) {
        if (!(err instanceof Incomplete)) return refuse(err);
        if (buf.length - start > max) return refuse(new TooLarge());
        [chunks, buffered, needed] = [[buf.subarray(start)], buf.length - start, err.needed - start];
      }
    };
    void (async () => {
      // Nothing a sender sent is read before it is known to be allowed (the socket buffers it).
      if (allow && !(await allow(socket.remoteAddress ?? '').catch(() => false))) {
        this.onRefused('it is not one of the nodes that may send logs', from);
        return void socket.destroy();
      }
      socket.on('data', onData);
    })();
  }

  /** One message: its entries, then its ack when the sender asked for one. */
  private take(socket: net.Socket, message: unknown, max: number): void {
    for (const entry of entriesOf(message, max)) this.onEntry(entry);
    const option = (Array.isArray(message) ? message[message.length - 1] : undefined) as { chunk?: string } | undefined;
    if (option && typeof option === 'object' && !Array.isArray(option) && typeof option.chunk === 'string') socket.write(encode({ ack: option.chunk }));
  }

  private serve(listen: (server: net.Server, done: () => void) => void, allow?: (address: string) => Promise<boolean>): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket, allow));
    if (this.limits.maxConnections) server.maxConnections = this.limits.maxConnections;
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      listen(server, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Listen on a Unix socket in a folder only this process's user may open (made 0700, or
   * refused if another user owns it): the permission is what keeps other local users out.
   */
  async listenSocket(file: string): Promise<void> {
    const dir = path.dirname(file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) throw new Error(`${dir} is not a folder of this user`);
    chmodSync(dir, 0o700);
    rmSync(file, { force: true }); // a socket left by a daemon that did not close
    await this.serve((server, done) => server.listen(file, done));
    this.socketPath = file;
  }

  /** Listen on TCP; a connection from an address `allow` refuses is closed before anything is read. */
  listen(port: number, host: string, allow?: (address: string) => Promise<boolean>): Promise<void> {
    return this.serve((server, done) => server.listen(port, host, done), allow);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))));
    this.servers = [];
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}
