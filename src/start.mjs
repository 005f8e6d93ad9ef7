#!/usr/bin/env node
// `npm start`: the daemon from its bundle (src/bundle.mjs: built when a source changed), with CLI flags.
import './threadpool.mjs'; // first: see there
import { loadServe } from './bundle.mjs';

const serve = await loadServe();
await serve(process.argv.slice(2));
