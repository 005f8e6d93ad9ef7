/** `npm start`: the daemon, with CLI flags (`npm start -- --port 9000`). */
import './threadpool.mjs'; // first: see there
import { serve } from './serve.ts';

await serve(process.argv.slice(2));
