/** Pods: an executor with replicas behind a round-robin head, in its own container. */
import { objectPlugin } from '../containers/plugin.ts';

export default objectPlugin('pod', 'An executor with replicas behind a round-robin head, in its own container');
