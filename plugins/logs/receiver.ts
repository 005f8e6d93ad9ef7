/**
 * A Fluentd forward-protocol receiver (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1),
 * enough for Docker's fluentd log driver and any Fluentd/Fluent Bit forwarding to it:
 * Message `[tag, time, record, option?]`, Forward `[tag, [[time, record]…], option?]` and
 * PackedForward `[tag, bin, option?]` (gzip-compressed too), EventTime (ext type 0), and acks
 * when the sender asks for one (`option.chunk`). It tracks its connections so it can close at once:
 * Docker keeps its log connections open for the life of a container.
 */
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeMultiStream, Decoder, encode, ExtensionCodec } from '@msgpack/msgpack';

export interface Entry {
  tag: string;
  /** seconds and nanoseconds */
  epoch: number;
  nano: number;
  record: Record<string, unknown>;
}

const codec = new ExtensionCodec();
codec.register({
  type: 0, // EventTime: 32-bit seconds, 32-bit nanoseconds, big-endian
  encode: () => null,
  decode: (data: Uint8Array) => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return { epoch: view.getUint32(0), nano: view.getUint32(4) };
  },
});

function timeOf(t: unknown): { epoch: number; nano: number } {
  if (typeof t === 'number') return { epoch: Math.floor(t), nano: Math.round((t % 1) * 1e9) };
  if (t && typeof t === 'object' && 'epoch' in t) return t as { epoch: number; nano: number };
  return { epoch: Math.floor(Date.now() / 1000), nano: 0 };
}

/** The entries of one forward-protocol message. */
export function entriesOf(message: unknown): Entry[] {
  if (!Array.isArray(message) || typeof message[0] !== 'string') return [];
  const [tag, second, third] = message as [string, unknown, unknown];
  if (Array.isArray(second)) {
    return second.filter(Array.isArray).map(([t, record]) => ({ tag, ...timeOf(t), record: (record ?? {}) as Record<string, unknown> }));
  }
  if (second instanceof Uint8Array) {
    const option = (message[2] ?? {}) as { compressed?: string };
    const bin = option.compressed === 'gzip' ? gunzipSync(second) : second;
    const out: Entry[] = [];
    for (const item of new Decoder({ extensionCodec: codec }).decodeMulti(bin)) {
      const [t, record] = item as [unknown, Record<string, unknown>];
      out.push({ tag, ...timeOf(t), record: record ?? {} });
    }
    return out;
  }
  return [{ tag, ...timeOf(second), record: (third ?? {}) as Record<string, unknown> }];
}

export interface ReceiverLimits {
  /** A connection that sends nothing for this long is closed (a sender reconnects when it has lines again). */
  idleMs?: number;
  /** Connections beyond this many are refused. */
  maxConnections?: number;
}

export class ForwardReceiver {
  private server = net.createServer((socket) => this.accept(socket));
  private sockets = new Set<net.Socket>();

  constructor(
    private onEntry: (entry: Entry) => void,
    private limits: ReceiverLimits = {},
  ) {
    if (limits.maxConnections) this.server.maxConnections = limits.maxConnections;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    if (this.limits.idleMs) socket.setTimeout(this.limits.idleMs, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    void (async () => {
      try {
        for await (const message of decodeMultiStream(socket, { extensionCodec: codec })) {
          for (const entry of entriesOf(message)) this.onEntry(entry);
          const option = (Array.isArray(message) ? message[message.length - 1] : undefined) as { chunk?: string } | undefined;
          if (option && typeof option === 'object' && !Array.isArray(option) && option.chunk) socket.write(encode({ ack: option.chunk }));
        }
      } catch {
        socket.destroy(); // not the forward protocol, or the sender went away mid-message
      }
    })();
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
