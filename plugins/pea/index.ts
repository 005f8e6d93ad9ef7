/** Peas: one executor, in its own container. */
import { objectPlugin } from '../containers/plugin.ts';

export default objectPlugin('pea', 'One executor in its own container');
