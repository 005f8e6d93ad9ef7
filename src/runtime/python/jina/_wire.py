"""
The frames between a Pea (Node.js) and its Python worker: a 4-byte little-endian length, then
one msgpack message. Tensors travel as msgpack bytes (see tensor.py), never lists of floats.
"""
import struct

import msgpack

_LEN = struct.Struct('<I')


def _plain(value):
    """What msgpack cannot write itself: numpy scalars and arrays (in tags or results), sets, bytearrays."""
    if hasattr(value, 'item') and getattr(value, 'shape', None) == ():
        return value.item()
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytearray):
        return bytes(value)
    raise TypeError(f'cannot send a {type(value).__name__} ({value!r:.80}) to the Flow')


def write(stream, message):
    body = msgpack.packb(message, use_bin_type=True, default=_plain)
    stream.write(_LEN.pack(len(body)))
    stream.write(body)
    stream.flush()


def read(stream):
    """The next message; None at the end of the stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = _LEN.unpack(head)
    body = stream.read(n)
    if len(body) < n:
        return None
    return msgpack.unpackb(body, raw=False, strict_map_key=False)
