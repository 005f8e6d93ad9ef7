// The daemon's file work (uploads staged to disk, workspace folders removed, log files) runs on
// libuv's thread pool, 4 threads by default, shared with DNS lookups and crypto: under load a
// workspace deletion's `rm` waited seconds in its queue (bench/mixed-load.ts). Sized before the
// pool starts (its first use), so this module is imported before anything else; an explicit
// UV_THREADPOOL_SIZE wins.
process.env.UV_THREADPOOL_SIZE ??= '16';
