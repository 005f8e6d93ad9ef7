// One request at a time to each URL given, in its own process (so the load's 200 clients in the
// bench's process do not delay it), until SIGTERM; then prints {url: [ms…]} as JSON on stdout.
import http from 'node:http';

const urls = process.argv.slice(2);
const took = Object.fromEntries(urls.map((u) => [u, []]));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (url) =>
  new Promise((resolve) => {
    const t0 = performance.now();
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - t0));
      })
      .on('error', () => resolve(undefined));
  });
let stop = false;
process.on('SIGTERM', () => (stop = true));
while (!stop) {
  for (const u of urls) {
    const ms = await get(u);
    if (ms !== undefined) took[u].push(ms);
  }
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write(JSON.stringify(took));
