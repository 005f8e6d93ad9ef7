"""
A Python Pea's worker: `python3 -m jina._worker`, started by the runtime (src/runtime/python.ts)
with its launch in JINAD_PY (the modules to load, the class, its `with` and metas, the runtime
arguments). Loads the py_modules, constructs the Executor, says `ready`, then answers the
requests that come on fd 3 with answers on fd 4, one at a time, in order (see _wire.py).
stdout and stderr are the object's log. `close()` runs at the end of fd 3 or on `close`.
"""
import gc
import importlib.util
import json
import os
import sys
import traceback

from . import _wire, tensor
from .document import DocumentArray
from .executor import BaseExecutor, call, handler_for


def load_modules(paths):
    for i, file in enumerate(paths):
        folder = os.path.dirname(file)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # the module's own helpers import as they do under Jina
        name = os.path.splitext(os.path.basename(file))[0]
        if name == '__init__':
            name = os.path.basename(folder)
        if name in sys.modules and getattr(sys.modules[name], '__file__', None) == file:
            continue
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None:
            raise ImportError(f'can not load {os.path.basename(file)}: not a Python module')
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def find_class(name):
    """An Executor class by name: among every subclass of Executor the modules defined."""
    seen, todo = [], [BaseExecutor]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__name__ == name:
                return sub
            seen.append(sub.__name__)
            todo.append(sub)
    shown = ', '.join(sorted(set(n for n in seen if n != 'Executor'))) or 'none'
    raise ImportError(f"executor class '{name}' is not defined by the py_modules (Executor classes found: {shown})")


def construct(cls, kwargs, metas, runtime_args, requests):
    """Like Jina: the class is called with its `with` arguments; metas and runtime_args reach BaseExecutor.__init__ however the subclass passes them on."""
    obj = cls.__new__(cls)
    obj._jinad_given = {'metas': metas, 'runtime_args': runtime_args}
    obj.__init__(**kwargs)
    if not hasattr(obj, 'requests') or not hasattr(obj, 'metas'):
        BaseExecutor.__init__(obj)  # its __init__ did not call super().__init__(): as Jina, the defaults
    if requests:
        for endpoint, method in requests.items():
            obj.requests['__default__' if endpoint == 'default' else endpoint] = getattr(obj, method)
    return obj


def handle(executor, name, msg, blobs):
    """A request → (the answer, the tensor bytes it names)."""
    endpoint = msg.get('endpoint') or '/'
    fn = handler_for(executor, endpoint)
    if fn is None:
        return {'t': 'res', 'id': msg['id'], 'skipped': True}, []
    matrix = msg.get('docs_matrix')
    gts = msg.get('groundtruths')
    docs = DocumentArray._from_frame(msg.get('docs') or {}, blobs)
    came = docs._batch
    docs_matrix = [DocumentArray._from_frame(m, blobs) for m in matrix] if matrix else None
    groundtruths = DocumentArray._from_frame(gts, blobs) if gts else None
    parameters = dict(msg.get('parameters') or {})
    own = parameters.get(name)
    if isinstance(own, dict):
        parameters.update(own)  # parameters under the Executor's name are for it alone
    out = call(fn, docs=docs, parameters=parameters, docs_matrix=docs_matrix, groups=None, groundtruths=groundtruths, groundtruths_matrix=None)
    reply = {'t': 'res', 'id': msg['id']}
    if isinstance(out, DocumentArray):
        docs = out
    elif isinstance(out, dict):
        reply['results'] = out
    elif out is not None:
        raise TypeError(f'The return type must be DocumentArray / Dict / `None`, but getting {out!r:.200}')
    with tensor.writing(msg.get('base') or 0) as out_blobs:
        batch = docs._to_frame(came)
    if 'docs' in batch:
        batch['docs'] = _wire.pack(batch['docs'])  # a tag msgpack cannot write fails the request here
    reply['docs'] = batch
    return reply, out_blobs


_OWN = os.path.dirname(os.path.abspath(__file__))


def traceback_of(exc):
    """The traceback from the user's code on: this package's own frames above it left out."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OWN):
        tb = tb.tb_next
    return ''.join(traceback.format_exception(type(exc), exc, tb))


def error_of(exc):
    return {'name': type(exc).__name__, 'message': str(exc), 'traceback': traceback_of(exc)}


def main():
    inbox = os.fdopen(3, 'rb')
    outbox = os.fdopen(4, 'wb')
    if os.environ.get('JINAD_PY_BLANK'):
        # Started ahead by a blank Pea: the interpreter, this package and numpy are loaded now;
        # the first frame says what to run, in which folder, with which environment.
        try:
            import numpy  # noqa: F401
        except ImportError:
            pass
        told, _ = _wire.read(inbox)
        if told is None:
            return
        os.environ.clear()
        os.environ.update(told['env'])
        os.chdir(told['cwd'])
        launch = told['launch']
    else:
        launch = json.loads(os.environ.pop('JINAD_PY'))
    name = launch['runtime_args'].get('name') or launch['class']
    try:
        load_modules(launch['modules'])
        cls = find_class(launch['class'])
        executor = construct(cls, launch.get('with') or {}, launch.get('metas') or {}, launch['runtime_args'], launch.get('requests') or {})
    except BaseException as exc:  # noqa: B902 - a SystemExit in a constructor is a failed start too
        sys.stderr.write(traceback_of(exc))
        sys.stderr.flush()
        _wire.write(outbox, {'t': 'error', **error_of(exc)})
        sys.exit(1)
    gc.freeze()  # what the Executor loaded (a model, an index) is not scanned again at every collection
    _wire.write(outbox, {'t': 'ready', 'pid': os.getpid()})
    try:
        while True:
            msg, blobs = _wire.read(inbox)
            if msg is None or msg.get('t') == 'close':
                break
            try:
                reply, out_blobs = handle(executor, name, msg, blobs)
            except Exception as exc:
                sys.stderr.write(f'{name}: {msg.get("endpoint")} failed:\n{traceback_of(exc)}')
                sys.stderr.flush()
                reply, out_blobs = {'t': 'res', 'id': msg['id'], 'error': error_of(exc)}, []
            try:
                _wire.write(outbox, reply, out_blobs)
            except TypeError as exc:
                _wire.write(outbox, {'t': 'res', 'id': msg['id'], 'error': error_of(exc)})
            # This frame let go before the next is read: its memory is then what the next one reuses
            # (a frame read while the last is still held is fresh memory, the kernel's to fault in).
            msg = blobs = reply = out_blobs = None
    finally:
        try:
            executor.close()
        except Exception:
            sys.stderr.write(f'{name}: close() failed:\n{traceback.format_exc()}')


if __name__ == '__main__':
    main()
