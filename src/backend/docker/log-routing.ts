/**
 * Log routing on Docker: the `fluentd` log driver, asynchronous so a receiver that is down
 * never stops a container, with sub-second times, tagged `jinad.<workspace>.<object>`.
 * Docker keeps a copy too ("dual logging"), which objectLogLines reads back.
 */
import type { LogRoute } from '../types.ts';

export function logConfigFor(route: LogRoute | undefined, workspaceId: string, objectId: string): { type: string; config: Record<string, string> } | undefined {
  if (!route) return undefined;
  return {
    type: 'fluentd',
    config: { 'fluentd-address': route.address, 'fluentd-async': 'true', 'fluentd-sub-second-precision': 'true', tag: `jinad.${workspaceId}.${objectId}` },
  };
}
