"""
Tensors (a Document's `embedding` and `blob`) as the runtime carries them: numpy arrays in an
Executor, `{'dense': {'buffer', 'shape', 'dtype'}}` on the wire (raw bytes, the dtype as numpy
spells it, e.g. '<f4'), never lists of floats. Where every document of a batch has the field in
one dtype and shape, the frame carries them as one Column: one buffer, a row per document. A
tensor that arrives is decoded only when an Executor reads it, and one it never touched leaves
as it came. Without numpy a tensor reads as a flat list of numbers (text-only Executors need
nothing more).
"""
import array
import base64
import contextlib
import sys

try:
    import numpy as np
except ImportError:  # text-only Executors run without numpy
    np = None

_ARRAY_CODES = {'f4': 'f', 'f8': 'd', 'i1': 'b', 'u1': 'B', 'i2': 'h', 'u2': 'H', 'i4': 'i', 'u4': 'I', 'i8': 'q', 'u8': 'Q'}


# While the worker reads a request's documents: the frame's tensor bytes, which dense buffers
# name by index; while it writes the answer: where tensor bytes go (see _wire.py).
_incoming = None
_outgoing = None
_base = 0  # the index of the answer's first blob (the frame's own blobs come before it)


@contextlib.contextmanager
def reading(blobs):
    global _incoming
    _incoming = blobs
    try:
        yield
    finally:
        _incoming = None


@contextlib.contextmanager
def writing(base=0):
    """While an answer is written: tensors' bytes go to the list it yields, named from index `base` on."""
    global _outgoing, _base
    _outgoing, _base = [], base
    try:
        yield _outgoing
    finally:
        _outgoing = None


def _put(buf):
    _outgoing.append(buf)
    return _base + len(_outgoing) - 1


def next_index():
    """The index the next tensor written will have."""
    return _base + len(_outgoing)


def _out(buf, shape, dtype):
    if _outgoing is not None:
        buf = _put(buf)
    return {'dense': {'buffer': buf, 'shape': shape, 'dtype': dtype}}


def _itemsize(dtype):
    if np is not None:
        return np.dtype(dtype).itemsize
    code = _ARRAY_CODES.get(dtype.lstrip('<>=|'))
    if code is None:
        raise TypeError(f'a tensor of dtype {dtype!r} needs numpy, which this Python does not have')
    return array.array(code).itemsize


class Column:
    """One field's tensors for a batch of documents, all of one dtype and shape: one buffer, rows in document order."""

    __slots__ = ('buffer', 'shape', 'dtype', 'rows', 'row_bytes', '_matrix')

    def __init__(self, buffer, shape, dtype, rows):
        self.buffer = memoryview(buffer).cast('B')
        self.shape = list(shape)
        self.dtype = dtype
        self.rows = rows
        n = 1
        for s in self.shape:
            n *= s
        self.row_bytes = n * _itemsize(dtype)
        if self.row_bytes * rows != len(self.buffer):
            raise ValueError(f'a column of {rows} rows of {self.shape} {dtype} needs {self.row_bytes * rows} bytes, got {len(self.buffer)}')
        self._matrix = None

    @classmethod
    def of(cls, matrix):
        """A C-contiguous copy of a matrix (none when it is one already), as a column of its rows."""
        m = np.ascontiguousarray(matrix)
        col = cls(m.reshape(-1).view(np.uint8), m.shape[1:], m.dtype.str, m.shape[0])
        col._matrix = m
        return col

    def matrix(self):
        """All rows as one array (over the frame's bytes: not a copy)."""
        if self._matrix is None:
            self._matrix = np.frombuffer(self.buffer, dtype=np.dtype(self.dtype)).reshape([self.rows] + self.shape)
        return self._matrix

    def row(self, i):
        """Row i for a Document of its own (a copy: a kept Document does not hold the whole frame)."""
        if np is not None:
            return self.matrix()[i].copy()
        return Raw(bytes(self.buffer[i * self.row_bytes:(i + 1) * self.row_bytes]), self.shape, self.dtype)

    def copy(self):
        """All rows, as `docs.embeddings` gives them: an array of the Executor's own."""
        if np is not None:
            return self.matrix().copy()
        return [decode(self.row(i)) for i in range(self.rows)]

    def wire(self):
        if _outgoing is None:
            raise RuntimeError('a column is only written into a frame')
        return {'blob': _put(self.buffer), 'shape': self.shape, 'dtype': self.dtype}


def stack(values):
    """Tensors of a batch as one Column when numpy has them all as arrays of one dtype and shape, else None."""
    if np is None or not values:
        return None
    first = values[0]
    if not isinstance(first, np.ndarray) or not first.shape or first.dtype.kind not in 'iuf':
        return None
    for v in values:
        if not isinstance(v, np.ndarray) or v.shape != first.shape or v.dtype != first.dtype:
            return None
    return Column.of(np.stack(values))


def forward(wire, blobs):
    """A document never read, for the answer: its tensors' bytes go on as they came (their indexes renumbered)."""
    out = wire
    for key in ('embedding', 'blob'):
        t = wire.get(key)
        dense = t.get('dense') if isinstance(t, dict) else None
        if isinstance(dense, dict) and isinstance(dense.get('buffer'), int):
            if out is wire:
                out = dict(wire)
            out[key] = _out(blobs[dense['buffer']], dense.get('shape') or [], dense.get('dtype') or '<f8')
    for key in ('chunks', 'matches'):
        if wire.get(key):
            if out is wire:
                out = dict(wire)
            out[key] = [forward(c, blobs) for c in wire[key]]
    return out


class Raw:
    """A tensor as it arrived: its bytes, shape and dtype, not yet decoded."""

    __slots__ = ('buffer', 'shape', 'dtype')

    def __init__(self, buffer, shape, dtype):
        self.buffer = buffer
        self.shape = list(shape)
        self.dtype = dtype


def from_wire(value):
    """A tensor of a wire document: a Raw (dense form, buffer as bytes or base64), or a list of numbers."""
    if value is None:
        return None
    if isinstance(value, dict):
        dense = value.get('dense', value)
        # Kept as it came (base64 text from JSON hops, bytes from Python): decoded only when read.
        buf = dense.get('buffer', b'')
        if isinstance(buf, int) and _incoming is not None:
            buf = bytes(_incoming[buf])  # a copy: the Document may outlive the frame
        shape = dense.get('shape') or []
        dtype = dense.get('dtype') or '<f8'
        return Raw(buf, shape, dtype)
    return to_array(value)


def to_array(value):
    """What an Executor set (an array, a list, a Raw) as what it reads back: a numpy array where numpy exists."""
    if value is None:
        return None
    if isinstance(value, Raw):
        return decode(value)
    if np is not None:
        if isinstance(value, np.ndarray):
            return value
        return np.asarray(value)
    return list(value)


def decode(raw):
    if isinstance(raw.buffer, str):
        raw.buffer = base64.b64decode(raw.buffer)
    if np is not None:
        dt = np.dtype(raw.dtype)
        # A copy: the Executor may change it in place (frombuffer over bytes is read-only).
        out = np.frombuffer(raw.buffer, dtype=dt).copy()
        return out.reshape(raw.shape) if raw.shape else out
    code = _ARRAY_CODES.get(raw.dtype.lstrip('<>=|'))
    if code is None:
        raise TypeError(f'a tensor of dtype {raw.dtype!r} needs numpy, which this Python does not have')
    a = array.array(code)
    a.frombytes(raw.buffer)
    if raw.dtype.startswith('>') and sys.byteorder == 'little':
        a.byteswap()
    return a.tolist()


def to_wire(value):
    """A tensor for the wire: the dense form with raw bytes (lists of numbers go as float64)."""
    if value is None:
        return None
    if isinstance(value, Raw):
        return _out(value.buffer, value.shape, value.dtype)
    if np is not None:
        a = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=np.float64 if isinstance(value, (list, tuple)) else None)
        if a.dtype.kind not in 'biuf':
            raise TypeError(f'a tensor must be numeric, got an array of dtype {a.dtype}')
        if a.dtype.kind == 'b':
            a = a.astype(np.uint8)
        return _out(np.ascontiguousarray(a).tobytes(), list(a.shape), a.dtype.str)
    a = array.array('d', [float(x) for x in value])
    return _out(a.tobytes(), [len(a)], '<f8')
