/**
 * A Pod's head: one HTTP endpoint (the Pod's `port_in`) in front of its replicas, speaking the
 * same protocol as a Pea, so whoever sends to a Pea can send to a whole Pod.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pod } from './pod.ts';
import type { DataRequest } from './protocol.ts';

export function serveHead(pod: Pod, host: string, port: number): Promise<http.Server> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: pod.name, ready: true, replicas: pod.replicaCount }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const out = JSON.stringify(await pod.send(JSON.parse(Buffer.concat(chunks).toString('utf8')) as DataRequest));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
      } catch (err) {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(String((err as Error).message));
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`${pod.name} cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

export const portOf = (server: http.Server) => (server.address() as AddressInfo).port;
