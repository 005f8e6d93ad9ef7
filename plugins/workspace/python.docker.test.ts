/**
 * Python workspaces on the real Docker Engine, as JinaD 2.0's users bring them: a requirements
 * file installed by pip in its own layer (from a wheel the test makes and uploads with the
 * workspace, found through the daemon's `pip.findLinks`: PyPI is out of reach here), and a
 * "custom project" whose `.jinad` runs `python app.py <port>`. A requirement pip cannot satisfy
 * fails the workspace naming the package and pip's message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorkspace, freePort, pureWheel, retryFetch, startDaemon, type TestDaemon } from '../../test/helpers.ts';

/** A pure-Python wheel of one module, made here: `greet.hello(name)`. */
const greetWheel = () => pureWheel('greet', '1.0', { 'greet/__init__.py': 'def hello(name):\n    return f"hello {name}, from a wheel"\n' });

const APP = `import http.server, sys
import greet

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = greet.hello("jinad").encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
`;

let d: TestDaemon;
before(async () => {
  d = await startDaemon({ config: { pip: { findLinks: ['wheels'], noIndex: true } } });
});
after(() => d?.cleanup());

describe('Python workspaces', () => {
  it('installs requirements with pip from an uploaded wheel, and runs `python app.py <port>` as the custom project', async () => {
    const port = await freePort();
    const { item } = await createWorkspace(d.url, {
      'requirements.txt': 'greet==1.0\n',
      'wheels/greet-1.0-py3-none-any.whl': greetWheel(),
      'app.py': APP,
      '.jinad': `python = 3.8\nports = ${port}\nrun = "python app.py ${port}"\n`,
    });
    assert.equal(item.state, 'ACTIVE', `${item.reason}\n${(item.log_tail ?? []).join('\n')}`);
    assert.equal(item.arguments.requirements, 'greet==1.0');
    assert.deepEqual(item.arguments.jinad, { python: '3.8', ports: String(port), run: `python app.py ${port}` });
    const res = await retryFetch(`http://127.0.0.1:${port}/`, 30_000);
    assert.equal(await res.text(), 'hello jinad, from a wheel');
  });

  it('a requirement pip cannot satisfy fails the workspace, naming the package and what pip said', async () => {
    const { item } = await createWorkspace(d.url, { 'requirements.txt': 'greet==9.9\n', 'wheels/greet-1.0-py3-none-any.whl': greetWheel() });
    assert.equal(item.state, 'FAILED');
    assert.match(item.reason, /pip could not install what requirements\.txt asks for: ERROR: .*greet==9\.9/);
  });
});
