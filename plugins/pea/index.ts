/** Peas: one executor, in its own container. No updates (as JinaD). */
import { defineObjectKind, PodArguments, prepareExecutor } from 'jinad/plugin';

export default defineObjectKind({
  kind: 'pea',
  description: 'One executor in its own container',
  create: { summary: 'Start a pea from its arguments (JSON body)', body: PodArguments },
  arguments: PodArguments,
  prepare: (input, ctx) => prepareExecutor('pea', input, ctx),
});
