/**
 * Log routing on Docker: the `fluentd` log driver, asynchronous so a receiver that is down
 * never stops a container, with sub-second times, tagged `jinad.<workspace>.<object>`.
 * Docker keeps a copy too ("dual logging"), which objectLogLines reads back.
 */
import type { LogRoute } from '../types.ts';

/** `onHost` gives a daemon-side path as the engine's host sees it (a daemon in a container). */
export function logConfigFor(
  route: LogRoute | undefined,
  workspaceId: string,
  objectId: string,
  onHost: (file: string) => string = (file) => file,
): { type: string; config: Record<string, string> } | undefined {
  if (!route) return undefined;
  const address = route.address.startsWith('unix://') ? `unix://${onHost(route.address.slice('unix://'.length))}` : route.address;
  return {
    type: 'fluentd',
    config: { 'fluentd-address': address, 'fluentd-async': 'true', 'fluentd-sub-second-precision': 'true', tag: `jinad.${workspaceId}.${objectId}` },
  };
}
