"""
Executor and @requests, as Jina 2 writes them. A subclass binds methods to endpoints with
`@requests` (every endpoint not bound otherwise) or `@requests(on='/index')` / `on=[...]`; the
runtime calls a bound method with keyword arguments (`docs`, `parameters`, `docs_matrix`,
`groups`, `groundtruths`, `groundtruths_matrix`) and reads its return: a DocumentArray replaces
the request's documents, a dict is this Executor's result (`parameters['__results__'][name]`),
None keeps the documents as the method left them.
"""
import functools
import inspect
import os
from types import SimpleNamespace

from .logging.logger import JinaLogger

DEFAULT_ENDPOINT = '__default__'


def requests(func=None, *, on=None):
    """`@requests`, `@requests(on='/index')`, `@requests(on=['/index', '/update'])`."""
    if on is not None and not isinstance(on, (str, list, tuple)):
        raise TypeError(f'@requests(on=...) takes an endpoint or a list of endpoints, got {type(on).__name__}')
    endpoints = [DEFAULT_ENDPOINT] if on is None else [on] if isinstance(on, str) else list(on)

    def bind(fn):
        if not callable(fn):
            raise TypeError('@requests decorates a method')
        fn.__jina_endpoints__ = list(getattr(fn, '__jina_endpoints__', [])) + endpoints
        return fn

    return bind(func) if func is not None else bind


class BaseExecutor:
    """Every Executor: its `metas`, `runtime_args`, `workspace`, `logger`, and the endpoints it serves (`requests`)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        bound = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                for endpoint in getattr(fn, '__jina_endpoints__', ()):
                    bound[endpoint] = attr
        cls._endpoint_methods = bound

    def __init__(self, metas=None, requests=None, runtime_args=None, **kwargs):
        given = getattr(self, '_jinad_given', {})
        metas = {**given.get('metas', {}), **(metas or {})}
        runtime_args = {**given.get('runtime_args', {}), **(runtime_args or {})}
        metas.setdefault('name', type(self).__name__)
        metas.setdefault('description', None)
        metas.setdefault('workspace', runtime_args.get('workspace'))
        metas.setdefault('py_modules', None)
        self.metas = SimpleNamespace(**metas)
        runtime_args.setdefault('name', self.metas.name)
        for key, default in (('replicas', 1), ('replica_id', 0), ('shards', 1), ('shard_id', 0)):
            runtime_args.setdefault(key, default)
        runtime_args.setdefault('parallel', runtime_args['shards'])
        runtime_args.setdefault('pea_id', runtime_args['shard_id'])
        self.runtime_args = SimpleNamespace(**runtime_args)
        self.logger = JinaLogger(self.metas.name)
        mapping = {k: getattr(self, v) for k, v in getattr(type(self), '_endpoint_methods', {}).items()}
        for endpoint, method in (requests or {}).items():
            mapping[DEFAULT_ENDPOINT if endpoint == 'default' else endpoint] = getattr(self, method) if isinstance(method, str) else method
        self.requests = mapping

    @property
    def workspace(self):
        """A folder of this Executor's own (per replica and shard when there are several), made on first use."""
        root = self.metas.workspace or getattr(self.runtime_args, 'workspace', None)
        if not root:
            return None
        parts = [root, self.metas.name]
        if self.runtime_args.shards > 1:
            parts.append(str(self.runtime_args.shard_id))
        if self.runtime_args.replicas > 1:
            parts.append(str(self.runtime_args.replica_id))
        path = os.path.join(*parts)
        os.makedirs(path, exist_ok=True)
        return path

    def close(self):
        """Called once when the Pea stops."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Executor(BaseExecutor):
    """What a user's Executor extends."""


def handler_for(executor, endpoint):
    """The bound method for an endpoint, else the default one, else None."""
    mapping = getattr(executor, 'requests', None)
    if not isinstance(mapping, dict):
        raise TypeError(f'{type(executor).__name__}.__init__ did not call super().__init__(**kwargs): its endpoints are unknown')
    return mapping.get(endpoint) or mapping.get(DEFAULT_ENDPOINT)


@functools.lru_cache(maxsize=256)
def _accepted(fn):
    """Which keyword arguments a method takes (None: any, it has **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def call(fn, **kwargs):
    """Call a bound method with the keyword arguments it takes (all of them when it has **kwargs)."""
    accepted = _accepted(getattr(fn, '__func__', fn))
    if accepted is not None:
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return fn(**kwargs)
