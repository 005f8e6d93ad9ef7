/**
 * Requests whose line or headers are too long for Node's parser (16 KiB): 414 for a request line
 * that never ended, 431 for headers, in JinaD's error shape. The rest of what the client sends is
 * read and dropped before the connection closes, so the client reads the answer instead of a
 * reset. Other parse errors get a plain 400.
 */
import type { Socket } from 'node:net';

function answer(socket: Socket, status: number, reason: string, detail: string, code: string): void {
  const body = JSON.stringify({ detail, code });
  socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  socket.resume(); // drain what the client still sends, then close
  socket.setTimeout(5000, () => socket.destroy());
  socket.end();
}

export function onClientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket): void {
  if (!socket.writable) return void socket.destroy();
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const start = err.rawPacket?.toString('latin1', 0, 64 * 1024) ?? '';
    if (!start.includes('\r\n')) return answer(socket, 414, 'URI Too Long', 'the request line is too long (at most 16 KiB)', 'invalid_request');
    return answer(socket, 431, 'Request Header Fields Too Large', 'the request headers are too large (at most 16 KiB in all)', 'invalid_request');
  }
  answer(socket, 400, 'Bad Request', `malformed HTTP request: ${err.code ?? err.message}`, 'malformed_body');
}
