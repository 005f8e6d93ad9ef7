/**
 * A Pod's head: one HTTP endpoint (the Pod's `port_in`) in front of its replicas, speaking the
 * same protocol as a Pea, so whoever sends to a Pea can send to a whole Pod.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pod } from './pod.ts';
import { requestServer } from './protocol.ts';

export function serveHead(pod: Pod, host: string, port: number): Promise<http.Server> {
  const server = requestServer({
    describe: () => ({ name: pod.name, ready: true, replicas: pod.replicaCount }),
    handle: (req) => pod.send(req),
    failStatus: 502,
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`${pod.name} cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

export const portOf = (server: http.Server) => (server.address() as AddressInfo).port;
