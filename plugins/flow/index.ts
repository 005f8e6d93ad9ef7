/** Flows: a Flow YAML from a workspace, run in its own container. */
import { objectPlugin } from '../containers/plugin.ts';

export default objectPlugin('flow', 'A Flow from a YAML in a workspace, in its own container, its gateway published on the host');
