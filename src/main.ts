/** `npm start`: the daemon, with CLI flags (`npm start -- --port 9000`). */
import { serve } from './serve.ts';

await serve(process.argv.slice(2));
