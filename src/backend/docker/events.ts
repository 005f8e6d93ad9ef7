/** Docker's event stream, as object events of this daemon's containers. */
import type { ObjectEvent } from '../types.ts';
import type { Engine } from './engine.ts';
import { LABEL, type Labels } from './labels.ts';
import { isUnclaimedSpare } from './spares.ts';

/** Call `fn` for events of containers carrying these labels; returns a stop function. */
export async function watchContainers(docker: Engine, labels: Labels, fn: (event: ObjectEvent) => void, onEnd?: () => void): Promise<() => void> {
  const filters = { type: ['container'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  const stream = (await docker.getEvents({ filters: JSON.stringify(filters) })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  let buf = '';
  stream.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      try {
        const ev = JSON.parse(buf.slice(0, nl)) as { Action: string; Actor: { ID?: string; Attributes: Record<string, string> } };
        const attrs = ev.Actor.Attributes;
        // An unclaimed spare is not an object yet (spares.ts).
        if (!isUnclaimedSpare(attrs.name ?? '', attrs)) fn({ action: ev.Action, id: attrs.name ?? '', ref: ev.Actor.ID, kind: attrs[LABEL.kind] ?? '', workspaceId: attrs[LABEL.workspace] ?? '', exitCode: attrs.exitCode === undefined ? undefined : Number(attrs.exitCode) });
      } catch {
        // not an event line
      }
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  let stopped = false;
  const ended = () => {
    if (!stopped) onEnd?.();
    stopped = true;
  };
  stream.on('error', ended);
  stream.on('end', ended);
  stream.on('close', ended);
  return () => {
    stopped = true;
    stream.destroy();
  };
}
