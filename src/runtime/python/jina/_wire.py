"""
The frames between a Pea (Node.js) and its Python worker: a 4-byte little-endian length of the
rest; a 4-byte length of the header; the header, one msgpack message; then the bytes of its
tensors, one after the other (the header's `blobs` lists their sizes; a tensor's dense buffer
is its index there). Tensors so cross as raw bytes, never lists of floats, and never pass
through msgpack (whose packer copies a large message over and over as it grows). A list of
documents is a batch, `{'docs': <msgpack of the documents>, 'n', 'span', 'cols': {field: {'blob',
'shape', 'dtype'}}}`: a field in `cols` is every document's, one row each of that blob (see
DocumentArray._from_frame); `span` the blobs the documents name one by one. The documents are
msgpack inside msgpack so that the Pea can pass a batch on without reading it. An answer's blobs
are numbered from the request's `base` on (the Pea sends them after the frame's own); its batch
may be `{'same': True, 'cols': {...}}`, the documents sent, unread, with the columns set since.
"""
import os
import struct

import msgpack

_LEN = struct.Struct('<I')
_IOV_MAX = 1024


def _plain(value):
    """What msgpack cannot write itself: numpy scalars and arrays (in tags or results), sets, bytearrays."""
    if hasattr(value, 'item') and getattr(value, 'shape', None) == ():
        return value.item()
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f'cannot send a {type(value).__name__} ({value!r:.80}) to the Flow')


def pack(value):
    return msgpack.packb(value, use_bin_type=True, default=_plain)


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def write(stream, message, blobs=()):
    """One frame, written from its parts (a large frame is never copied into one buffer first)."""
    message['blobs'] = [len(b) for b in blobs]
    header = pack(message)
    size = 4 + len(header) + sum(message['blobs'])
    stream.flush()
    parts = [memoryview(_LEN.pack(size) + _LEN.pack(len(header)) + header)]
    parts += [v for v in (memoryview(b).cast('B') for b in blobs) if len(v)]
    fd, i = stream.fileno(), 0
    while i < len(parts):
        n = os.writev(fd, parts[i:i + _IOV_MAX])
        while i < len(parts) and n >= len(parts[i]):
            n -= len(parts[i])
            i += 1
        if n:
            parts[i] = parts[i][n:]


def read(stream):
    """The next message and its tensor bytes (memoryviews of the frame); (None, []) at the end of the stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None, []
    (n,) = _LEN.unpack(head)
    body = stream.read(n)  # one buffer; tensors are views of it until a Document copies its own
    if len(body) < n:
        return None, []
    view = memoryview(body)
    (h,) = _LEN.unpack_from(body, 0)
    message = unpack(view[4:4 + h])
    blobs, at = [], 4 + h
    for size in message.get('blobs') or ():
        blobs.append(view[at:at + size])
        at += size
    return message, blobs
