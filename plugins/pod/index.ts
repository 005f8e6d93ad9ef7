/** Pods: an executor with replicas behind a round-robin head, in its own container. */
import { defineObjectKind, PodArguments, prepareExecutor } from 'jinad/plugin';

export default defineObjectKind({
  kind: 'pod',
  description: 'An executor with replicas behind a round-robin head, in its own container',
  create: { summary: 'Start a pod from its arguments (JSON body)', body: PodArguments },
  arguments: PodArguments,
  updates: { podName: 'optional' },
  prepare: (input, ctx) => prepareExecutor('pod', input, ctx),
});
