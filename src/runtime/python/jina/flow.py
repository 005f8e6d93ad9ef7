"""
Flow, for `app.py`-style projects: builds a Flow the way Jina 2 does (`Flow(...).add(...)`) and
runs it with the jinad runtime's own CLI (`node <runtime>/bin.mjs flow --uses <yaml>`), then
talks to its HTTP gateway. It does not reimplement the Flow: the runtime runs it, Python
Executors and TypeScript ones alike. `uses=SomeExecutorClass` names the class and its file (the
file is imported again by the Pea: keep a Flow's start under `if __name__ == '__main__':`).
"""
import http.client
import inspect
import json
import os
import subprocess
import sys
import tempfile
import threading

from .document import Document, DocumentArray

_RUNTIME_BIN = os.environ.get('JINAD_RUNTIME_BIN') or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'bin.mjs')
_FLOW_WITH = ('name', 'protocol', 'port_expose', 'title', 'description', 'cors', 'expose_endpoints', 'idle_timeout')


class Response:
    """One answer of the gateway: `docs`, `parameters`, `status`, and the raw `data`."""

    def __init__(self, body):
        self.body = body
        data = body.get('data') or {}
        self.docs = DocumentArray([Document(d) for d in (data.get('docs') or [])])
        self.parameters = body.get('parameters') or {}
        self.status = body.get('header', {}).get('status') or body.get('status') or {}
        self.request_id = body.get('requestId') or body.get('request_id')

    @property
    def data(self):
        return self

    def __repr__(self):
        return f'<Response ({len(self.docs)} docs)>'


class FlowError(RuntimeError):
    pass


class Flow:
    def __init__(self, args=None, **kwargs):
        self._with = {k: v for k, v in kwargs.items() if v is not None}
        self._executors = []
        self._process = None
        self._file = None
        self.port_expose = kwargs.get('port_expose')

    def add(self, **kwargs):
        """A step (an Executor): `uses` a class, a class name with `py_modules`, or an executor YAML; `name`, `replicas`, `shards`, `needs`, `uses_with`, …"""
        entry = {k: v for k, v in kwargs.items() if v is not None}
        uses = entry.get('uses')
        if inspect.isclass(uses):
            entry['uses'] = uses.__name__
            modules = list(entry.get('py_modules') or [])
            try:
                module_file = os.path.abspath(inspect.getfile(uses))
            except TypeError:
                raise FlowError(f'{uses.__name__} has no file to load it from; define it in a module')
            if module_file not in modules:
                modules.append(module_file)
            entry['py_modules'] = modules
        entry.setdefault('name', f'executor{len(self._executors)}')
        self._executors.append(entry)
        return self

    def needs_all(self, name='joiner', **kwargs):
        return self.add(name=name, needs=[e['name'] for e in self._executors], **kwargs)

    def to_dict(self):
        return {'jtype': 'Flow', 'with': {k: v for k, v in self._with.items() if k in _FLOW_WITH}, 'executors': self._executors}

    def save_config(self, filename):
        with open(filename, 'w') as f:
            json.dump(self.to_dict(), f, indent=2)  # JSON is YAML

    # -- running it
    def start(self):
        fd, self._file = tempfile.mkstemp(prefix='.jinad-flow-', suffix='.yml', dir=os.getcwd())
        with os.fdopen(fd, 'w') as f:
            json.dump(self.to_dict(), f)
        cmd = ['node', _RUNTIME_BIN, 'flow', '--uses', self._file]
        if self.port_expose:
            cmd += ['--port-expose', str(self.port_expose)]
        self._process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        seen = []
        for line in self._process.stdout:
            sys.stdout.write(line)
            seen.append(line)
            if 'Flow ready: http' in line:
                self.port_expose = int(line.rsplit(':', 1)[1].split()[0].rstrip('/'))
                break
        else:
            code = self._process.wait()
            self._cleanup()
            raise FlowError(f'the Flow did not start (exit code {code}):\n' + ''.join(seen[-30:]))
        threading.Thread(target=self._relay, daemon=True).start()
        return self

    def _relay(self):
        for line in self._process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()

    def close(self):
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._cleanup()

    def _cleanup(self):
        if self._file and os.path.exists(self._file):
            os.remove(self._file)
        self._file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def block(self):
        """Serve until the runtime stops (or Ctrl-C)."""
        try:
            self._process.wait()
        except KeyboardInterrupt:
            pass

    # -- the client side
    def post(self, on, inputs=None, parameters=None, on_done=None, on_error=None, request_size=100, return_results=False, target_peapod=None, **kwargs):
        """Send documents to an endpoint, `request_size` per request; each answer goes to `on_done` (and is returned with `return_results`)."""
        if self._process is None:
            raise FlowError('the Flow is not started: use `with Flow(...) as f:` or f.start()')
        docs = _documents(inputs)
        results = []
        batches = [docs[i:i + request_size] for i in range(0, len(docs), request_size)] or [[]]
        for batch in batches:
            body = {'data': [d.dict() for d in batch], 'parameters': parameters or {}, 'exec_endpoint': on}
            if target_peapod:
                body['target_peapod'] = target_peapod
            answer = Response(self._call(body))
            if answer.status.get('code', 0) not in (0, 1):
                if on_error:
                    on_error(answer)
                    continue
                raise FlowError(answer.status.get('description') or 'the request failed')
            if on_done:
                on_done(answer)
            results.append(answer)
        return results if return_results or not on_done else None

    def index(self, inputs=None, **kwargs):
        return self.post('/index', inputs, **kwargs)

    def search(self, inputs=None, **kwargs):
        return self.post('/search', inputs, **kwargs)

    def _call(self, body):
        conn = http.client.HTTPConnection('127.0.0.1', self.port_expose, timeout=300)
        try:
            conn.request('POST', '/post', json.dumps(body), {'content-type': 'application/json'})
            res = conn.getresponse()
            text = res.read().decode()
        finally:
            conn.close()
        if res.status != 200:
            raise FlowError(f'the gateway answered {res.status}: {text[:500]}')
        return json.loads(text)


def _documents(inputs):
    if inputs is None:
        return []
    if callable(inputs):
        inputs = inputs()
    if isinstance(inputs, (Document, str, dict)):
        inputs = [inputs]
    return [d if isinstance(d, Document) else Document(d) if isinstance(d, dict) else Document(text=d) if isinstance(d, str) else Document(d) for d in inputs]
