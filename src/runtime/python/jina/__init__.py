"""
A small `jina` package for Python Executors run by the jinad runtime: the parts of Jina 2's
Executor API that Executors use (Executor, requests, Document, DocumentArray, JinaLogger, and a
Flow that drives the runtime's own CLI). Written for this runtime from Jina 2's documented
behaviour; it is not Jina. What exists is listed in the README ("Python Executors").
"""

__version__ = '2.0.0'
# What the runtime says it is, beside the Jina API version it follows.
__jinad__ = True

from .document import Document, DocumentArray, NamedScore  # noqa: E402
from .executor import BaseExecutor, Executor, requests  # noqa: E402
from .logging.logger import JinaLogger  # noqa: E402
from .flow import Flow  # noqa: E402

__all__ = ['Document', 'DocumentArray', 'NamedScore', 'Executor', 'BaseExecutor', 'requests', 'JinaLogger', 'Flow', '__version__']
