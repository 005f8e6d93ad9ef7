"""
Document and DocumentArray, as Jina 2 Executors use them. A Document's fields are attributes
(`id`, `text`, `buffer`, `blob`, `embedding`, `uri`, `mime_type`, `tags`, `chunks`, `matches`,
`scores`, `evaluations`, `granularity`, `adjacency`, `parent_id`, `modality`, `weight`); `content`
is whichever of text, buffer, blob or uri is set. Unknown keyword fields go to `tags`, as in Jina.
"""
import base64
import copy as _copy
import json
import uuid
from collections.abc import MutableSequence

from . import tensor

_SCALARS = ('text', 'buffer', 'uri', 'mime_type', 'granularity', 'adjacency', 'parent_id', 'modality', 'weight', 'location', 'offset')
_FIELDS = set(_SCALARS) | {'id', 'blob', 'embedding', 'tags', 'chunks', 'matches', 'scores', 'evaluations', 'content'}
# The wire (and the HTTP gateway) spells fields in camelCase, as Jina 2's protobuf JSON does.
_CAMEL = {'mime_type': 'mimeType', 'parent_id': 'parentId'}
_SNAKE = {v: k for k, v in _CAMEL.items()}


def _new_id():
    return uuid.uuid4().hex


class NamedScore:
    """A score: `value`, and what made it (`op_name`), for which document (`ref_id`)."""

    __slots__ = ('value', 'op_name', 'description', 'ref_id')

    def __init__(self, value=0.0, op_name='', description='', ref_id='', **kwargs):
        self.value = float(value)
        self.op_name = op_name or kwargs.get('opName', '')
        self.description = description
        self.ref_id = ref_id or kwargs.get('refId', '')

    def _wire(self):
        out = {'value': self.value}
        if self.op_name:
            out['opName'] = self.op_name
        if self.description:
            out['description'] = self.description
        if self.ref_id:
            out['refId'] = self.ref_id
        return out

    def __repr__(self):
        return f'NamedScore(value={self.value!r}, op_name={self.op_name!r}, ref_id={self.ref_id!r})'

    def __eq__(self, other):
        return isinstance(other, NamedScore) and (self.value, self.op_name, self.ref_id) == (other.value, other.op_name, other.ref_id)


class _Scores(dict):
    """name → NamedScore; `scores['cosine'] = 0.1` sets a value (as Jina allows)."""

    def __setitem__(self, key, value):
        if isinstance(value, NamedScore):
            pass
        elif isinstance(value, dict):
            value = NamedScore(**value)
        else:
            value = NamedScore(value=value)
        super().__setitem__(key, value)

    def __missing__(self, key):
        score = NamedScore()
        super().__setitem__(key, score)
        return score


def _scores(value):
    s = _Scores()
    for k, v in (value or {}).items():
        s[k] = v
    return s


def _tensor_field(name):
    """A tensor attribute: decoded from its wire bytes on first read, any array-like accepted when set."""
    attr = '_' + name

    def get(self):
        value = getattr(self, attr)
        if isinstance(value, tensor.Raw):
            value = tensor.decode(value)
            setattr(self, attr, value)
        return value

    def set(self, value):
        setattr(self, attr, tensor.to_array(value))

    return property(get, set)


def _child_field(kind):
    """`chunks` or `matches`: a DocumentArray that marks what is added as this Document's."""
    attr = f'_{kind}es' if kind == 'match' else f'_{kind}s'
    return property(lambda self: getattr(self, attr), lambda self, docs: setattr(self, attr, _ChildArray(self, kind, docs)))


def _scores_field(attr):
    return property(lambda self: getattr(self, attr), lambda self, value: setattr(self, attr, _scores(value)))


class Document:
    def __init__(self, document=None, copy=False, **kwargs):
        self.id = None
        self.text = None
        self.buffer = None
        self.uri = None
        self.mime_type = None
        self.granularity = 0
        self.adjacency = 0
        self.parent_id = None
        self.modality = None
        self.weight = None
        self.location = None
        self.offset = None
        self._blob = None
        self._embedding = None
        self.tags = {}
        self._chunks = _ChildArray(self, 'chunk')
        self._matches = _ChildArray(self, 'match')
        self._scores = _Scores()
        self._evaluations = _Scores()
        if isinstance(document, Document):
            wire = document._to_wire()
            self._from_wire(_copy.deepcopy(wire) if copy else wire)
        elif isinstance(document, dict):
            self._from_wire(document)
        elif isinstance(document, str):
            try:
                parsed = json.loads(document)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                self._from_wire(parsed)  # a Document's JSON
            else:
                self.text = document
        elif isinstance(document, bytes):
            self.buffer = document
        elif document is not None:
            raise TypeError(f'Document() takes a Document, a dict, a JSON string or bytes, got {type(document).__name__}')
        if kwargs:
            self._from_wire(kwargs)
        if not self.id:
            self.id = _new_id()

    # Tensors (numpy arrays to the Executor, raw bytes on the wire), chunks and matches, scores.
    embedding = _tensor_field('embedding')
    blob = _tensor_field('blob')
    chunks = _child_field('chunk')
    matches = _child_field('match')
    scores = _scores_field('_scores')
    evaluations = _scores_field('_evaluations')

    @property
    def content(self):
        """The one content field that is set: text, buffer, blob or uri."""
        for value in (self.text, self.buffer, self.blob, self.uri):
            if value is not None:
                return value
        return None

    @content.setter
    def content(self, value):
        self.text = self.buffer = self._blob = self.uri = None
        if value is None:
            return
        if isinstance(value, str):
            if value.startswith(('http://', 'https://', 'data:', 'file://')) or ('/' in value and '\n' not in value and ' ' not in value and '.' in value.rsplit('/', 1)[-1]):
                self.uri = value
            else:
                self.text = value
        elif isinstance(value, (bytes, bytearray)):
            self.buffer = bytes(value)
        else:
            self.blob = value

    @property
    def content_type(self):
        for name in ('text', 'buffer', 'blob', 'uri'):
            if getattr(self, name) is not None:
                return name
        return None

    def set_attributes(self, **kwargs):
        self._from_wire(kwargs)

    def update(self, source, fields=None):
        """Copy fields from another Document (all that are set, or those named)."""
        wire = source._to_wire()
        if fields:
            wanted = {_CAMEL.get(f, f) for f in fields}
            wire = {k: v for k, v in wire.items() if k in wanted}
        wire.pop('id', None)
        self._from_wire(wire)

    def get_attributes(self, *fields):
        values = [self._get(f) for f in fields]
        return values[0] if len(fields) == 1 else values

    def _get(self, field):
        if field.startswith('tags__'):
            return self.tags.get(field[len('tags__'):])
        if '__' in field:
            head, rest = field.split('__', 1)
            return Document._get(getattr(self, head), rest) if not isinstance(getattr(self, head), dict) else getattr(self, head).get(rest)
        return getattr(self, field)

    # -- the wire form (camelCase keys; tensors dense with raw bytes; buffer as bytes)
    def _from_wire(self, d):
        for key, value in d.items():
            name = _SNAKE.get(key, key)
            if value is None and name not in ('text', 'uri', 'buffer'):
                continue
            if name == 'id':
                self.id = str(value)
            elif name == 'tags':
                self.tags.update(value)
            elif name == 'embedding':
                self._embedding = tensor.from_wire(value)
            elif name == 'blob':
                self._blob = tensor.from_wire(value)
            elif name == 'buffer':
                self.buffer = base64.b64decode(value) if isinstance(value, str) else value
            elif name == 'chunks':
                self.chunks = value
            elif name == 'matches':
                self.matches = value
            elif name == 'scores':
                self.scores = value
            elif name == 'evaluations':
                self.evaluations = value
            elif name == 'content':
                self.content = value
            elif name in _SCALARS:
                setattr(self, name, value)
            else:
                self.tags[key] = value

    def _to_wire(self, skip=()):
        """This Document's wire form; fields in `skip` go in the batch's columns instead."""
        out = {'id': self.id}
        for name in _SCALARS:
            value = getattr(self, name)
            if value is None or (name in ('granularity', 'adjacency') and value == 0):
                continue
            out[_CAMEL.get(name, name)] = value
        if self._embedding is not None and 'embedding' not in skip:
            out['embedding'] = tensor.to_wire(self._embedding)
        if self._blob is not None and 'blob' not in skip:
            out['blob'] = tensor.to_wire(self._blob)
        if self.tags:
            out['tags'] = self.tags
        if len(self._chunks):
            out['chunks'] = [c._to_wire() for c in self._chunks]
        if len(self._matches):
            out['matches'] = [m._to_wire() for m in self._matches]
        if self._scores:
            out['scores'] = {k: s._wire() for k, s in self._scores.items()}
        if self._evaluations:
            out['evaluations'] = {k: s._wire() for k, s in self._evaluations.items()}
        return out

    def dict(self):
        """This Document as plain Python values (tensors as lists, buffer as base64)."""
        def plain(d):
            for key in ('embedding', 'blob'):
                if key in d:
                    value = tensor.to_array(tensor.from_wire(d[key]))
                    d[key] = value.tolist() if hasattr(value, 'tolist') else value
            if 'buffer' in d:
                d['buffer'] = base64.b64encode(d['buffer']).decode()
            for key in ('chunks', 'matches'):
                if key in d:
                    d[key] = [plain(x) for x in d[key]]
            return d

        return plain(self._to_wire())

    def json(self):
        return json.dumps(self.dict())

    def __eq__(self, other):
        return isinstance(other, Document) and self.dict() == other.dict()

    def __repr__(self):
        shown = {k: v for k, v in self.dict().items() if k not in ('chunks', 'matches')}
        return f'<Document {shown}>'


class DocumentArray(MutableSequence):
    """
    An ordered list of Documents: `len`, iteration, `da[0]`, `da['<id>']`, `da[1:3]` (a
    DocumentArray), `append`/`extend`/`insert`/`clear`, `'<id>' in da`, and Jina's accessors.
    """

    _lazy = None  # a frame's batch as it came, (wires or their msgpack, n, blobs, cols): read when first needed

    def __init__(self, docs=None):
        self._items = []
        # While these are a frame's batch as it came (none read or moved): its _Cols, the columns
        # every document still takes its tensors from, row by row in order.
        self._batch = None
        if docs is not None:
            self.extend(docs)

    @classmethod
    def _from_frame(cls, batch, blobs):
        """
        The documents of a frame's batch (`{'docs': [...], 'cols': {field: column}}`; the frame
        carries `docs` as msgpack bytes), each read only when an Executor looks at it: what it
        never touches leaves as it came.
        """
        wires = batch.get('docs') or ()
        n = batch.get('n')
        if not isinstance(wires, (bytes, memoryview)):
            n = len(wires)
        elif not isinstance(n, int):
            wires = _unpack(wires)  # a count not given: the documents are read to count them
            n = len(wires)
        cols = _Cols(n)
        for f, c in (batch.get('cols') or {}).items():
            cols[f] = tensor.Column(blobs[c['blob']], c.get('shape') or [], c.get('dtype') or '<f8', n)
        cols.came = dict(cols)
        da = cls()
        da._lazy = (wires, n, blobs, cols)
        da._batch = cols if n else None
        return da

    @property
    def _items(self):
        """The documents: each a Document, or an _Unread while nothing asked for it."""
        if self._lazy is not None:
            wires, n, blobs, cols = self._lazy
            self._lazy = None
            if isinstance(wires, (bytes, memoryview)):
                wires = _unpack(wires)
                if len(wires) != n:
                    raise ValueError(f'a batch of {n} documents that holds {len(wires)}')
            self._list = [_Unread(w, blobs, cols, i) for i, w in enumerate(wires)]
        return self._list

    @_items.setter
    def _items(self, items):
        self._lazy = None
        self._list = items

    @property
    def _docs(self):
        """Every document, each read now if it was not yet."""
        items = self._items
        self._batch = None  # a caller may read or change any of them
        for i, d in enumerate(items):
            if type(d) is _Unread:
                items[i] = self._adopt(d.read())
        return items

    def _adopt(self, doc):
        return doc if isinstance(doc, Document) else Document(doc)

    def __len__(self):
        return self._lazy[1] if self._lazy is not None else len(self._list)

    def __iter__(self):
        return iter(self._docs)

    def __getitem__(self, key):
        if isinstance(key, (int,)) or type(key).__name__.startswith('int'):
            d = self._items[int(key)]
            if type(d) is _Unread:
                d = self._items[int(key)] = self._adopt(d.read())
                self._batch = None
            return d
        if isinstance(key, str):
            for d in self._docs:
                if d.id == key:
                    return d
            raise KeyError(key)
        if isinstance(key, slice):
            da = DocumentArray()
            da._items = self._items[key]
            return da
        raise IndexError(f'a DocumentArray is indexed by an int, a Document id or a slice, got {type(key).__name__}')

    def __setitem__(self, key, doc):
        if isinstance(key, str):
            key = self._index_of(key)
        self._docs[key] = self._adopt(doc)

    def __delitem__(self, key):
        if isinstance(key, str):
            key = self._index_of(key)
        del self._docs[key]

    def _index_of(self, id_):
        for i, d in enumerate(self._docs):
            if d.id == id_:
                return i
        raise KeyError(id_)

    def __contains__(self, item):
        if isinstance(item, str):
            return any(d.id == item for d in self._docs)
        return item in self._docs

    def insert(self, index, doc):
        self._batch = None
        self._items.insert(index, self._adopt(doc))

    def append(self, doc):
        self._batch = None
        self._items.append(self._adopt(doc))

    def extend(self, docs):
        for d in docs:
            self.append(d)

    def clear(self):
        self._batch = None
        self._items.clear()

    def reverse(self):
        self._docs.reverse()

    def sort(self, *args, **kwargs):
        self._docs.sort(*args, **kwargs)

    def __add__(self, other):
        return DocumentArray(list(self) + list(other))

    def __eq__(self, other):
        return isinstance(other, DocumentArray) and list(self) == list(other)

    def __repr__(self):
        return f'<DocumentArray (length={len(self)})>'

    def __bool__(self):
        return len(self) > 0

    # -- Jina's accessors
    def get_attributes(self, *fields):
        """One field: its value for every document; several: a list per field."""
        if len(fields) == 1:
            return [d._get(fields[0]) for d in self._docs]
        return [[d._get(f) for d in self._docs] for f in fields]

    @property
    def texts(self):
        # Read from the wire where it says the text itself: an encoder that only reads texts makes no Document.
        return [d.wire.get('text') if type(d) is _Unread and 'content' not in d.wire else self[i].text for i, d in enumerate(self._items)]

    @texts.setter
    def texts(self, values):
        for d, v in zip(self._docs, self._one_each(values)):
            d.text = v

    @property
    def buffers(self):
        return [d.buffer for d in self._docs]

    @property
    def embeddings(self):
        """Every document's embedding as one matrix, rows in document order."""
        return self._stack('embedding')

    @embeddings.setter
    def embeddings(self, rows):
        self._set_rows('embedding', rows)

    @property
    def blobs(self):
        return self._stack('blob')

    @blobs.setter
    def blobs(self, rows):
        self._set_rows('blob', rows)

    def _set_rows(self, field, rows):
        cols = self._batch
        if cols is not None and tensor.np is not None and isinstance(rows, tensor.np.ndarray) and rows.ndim >= 2 and rows.shape[0] == len(self) and rows.dtype.kind in 'iuf':
            cols[field] = tensor.Column.of(rows)  # documents not yet read take their rows from it: no Document is made
            return
        for d, row in zip(self._docs, self._one_each(rows)):
            setattr(d, field, row)

    def _stack(self, field):
        cols = self._batch
        if cols is not None and field in cols:
            return cols[field].copy()  # the frame's rows as they are, without reading each document
        values = []
        for i, d in enumerate(self._docs):
            value = getattr(d, field)
            if value is None:
                raise ValueError(f'document {i} ({d.id}) has no {field}')
            values.append(value)
        if tensor.np is None:
            return values
        return tensor.np.stack(values) if values else tensor.np.zeros((0,))

    def _one_each(self, values):
        values = list(values)
        if len(values) != len(self):
            raise ValueError(f'expected {len(self)} values, one per document, got {len(values)}')
        return values

    def traverse_flat(self, traversal_paths):
        """The documents along traversal paths, flattened: 'r' these, 'c' chunks, 'm' matches ('cm', 'r,c')."""
        paths = traversal_paths.split(',') if isinstance(traversal_paths, str) else list(traversal_paths)
        out = DocumentArray()
        for p in paths:
            p = p.strip()
            if p != 'r' and (not p or set(p) - {'c', 'm'}):
                raise ValueError(f"traversal path {p!r}: expected 'r', or c and m letters (c chunks, m matches), like 'cm'")
            level = list(self._docs)
            if p != 'r':
                for step in p:
                    level = [x for d in level for x in (d.chunks if step == 'c' else d.matches)]
            out._docs.extend(level)
        return out

    def traverse(self, traversal_paths):
        paths = traversal_paths.split(',') if isinstance(traversal_paths, str) else list(traversal_paths)
        for p in paths:
            yield self.traverse_flat([p])

    def match(self, darray, metric='cosine', limit=20, normalization=None, metric_name=None, exclude_self=False, **kwargs):
        """
        For each of these documents, the `limit` nearest of `darray` by embedding become its
        matches (copies), nearest first, each scored under `metric_name` (the metric's name) with
        its distance: cosine (1 - cosine similarity), euclidean, sqeuclidean, or a function of
        two matrices that returns their distance matrix.
        """
        name = metric_name or (metric if isinstance(metric, str) else getattr(metric, '__name__', 'metric'))
        queries = [d for d in self._docs if d.embedding is not None]
        index = [d for d in darray if d.embedding is not None]
        if not queries or not index:
            return
        dists = _distances([q.embedding for q in queries], [d.embedding for d in index], metric)
        for qi, q in enumerate(queries):
            row = [(dists[qi][j], j) for j in range(len(index)) if not (exclude_self and index[j].id == q.id)]
            row.sort(key=lambda x: x[0])
            if limit is not None and limit > 0:
                row = row[:limit]
            if normalization and row:
                lo, hi = normalization
                dmin, dmax = row[0][0], row[-1][0]
                span = (dmax - dmin) or 1.0
                row = [(lo + (dist - dmin) / span * (hi - lo), j) for dist, j in row]
            q.matches = []
            for dist, j in row:
                m = Document(index[j], copy=True)
                m.scores[name] = NamedScore(value=float(dist), op_name=name, ref_id=q.id)
                q.matches.append(m)

    # -- files
    def save(self, file, file_format='json'):
        if file_format == 'json':
            with open(file, 'w') as f:
                for d in self._docs:
                    f.write(d.json() + '\n')
        elif file_format == 'binary':
            import pickle

            with open(file, 'wb') as f:
                pickle.dump([d._to_wire() for d in self._docs], f)
        else:
            raise ValueError(f"file_format must be 'json' or 'binary', got {file_format!r}")

    @classmethod
    def load(cls, file, file_format='json'):
        if file_format == 'json':
            with open(file) as f:
                return cls(Document(json.loads(line)) for line in f if line.strip())
        if file_format == 'binary':
            import pickle

            with open(file, 'rb') as f:
                return cls(Document(d) for d in pickle.load(f))
        raise ValueError(f"file_format must be 'json' or 'binary', got {file_format!r}")

    def _to_frame(self, came=None):
        """
        The batch for a frame (inside tensor.writing()): a field every document has in one dtype
        and shape goes as one column. When these are still the documents of the batch `came`
        (their _Cols), none of them read as a Document, the answer says so and carries only the
        columns set since: what did not change does not cross again.
        """
        same = self._batch
        if same is not None and same is came:
            changed = {f: c.wire() for f, c in same.items() if same.came.get(f) is not c}
            return {'same': True, 'cols': changed} if changed else {'same': True}
        items = self._items
        if same is not None:
            cols = dict(same)  # the rows as they came (or as set whole): the same bytes go on
        else:
            stacked = ((f, tensor.stack([_tensor_of(d, f) for d in items])) for f in ('embedding', 'blob'))
            cols = {f: c for f, c in stacked if c is not None}
        out = {'cols': {f: c.wire() for f, c in cols.items()}} if cols else {}
        first = tensor.next_index()
        docs = []
        for d in items:
            if type(d) is _Unread:
                w = tensor.forward(d.wire, d.blobs)
                for f in d.cols:
                    if f not in cols:  # a row of a column that does not go on whole: this document's own tensor
                        w = {**w, f: tensor.to_wire(d.cols[f].row(d.row))}
            else:
                w = d._to_wire(skip=cols)
            docs.append(w)
        out.update(docs=docs, n=len(docs), span=[first, tensor.next_index()])
        return out


def _tensor_of(d, field):
    if type(d) is _Unread:
        col = d.cols.get(field)
        return col.matrix()[d.row] if col is not None and tensor.np is not None else None
    return getattr(d, '_' + field)


def _unpack(data):
    from ._wire import unpack  # the worker's; an Executor imported elsewhere never reads a frame

    wires = unpack(data)
    if not isinstance(wires, list):
        raise ValueError('a batch whose documents are not a list')
    return wires


class _Cols(dict):
    """field → Column for the documents of one batch (`rows` of them); `came`: the columns as the frame brought them."""

    def __init__(self, rows):
        super().__init__()
        self.rows = rows
        self.came = {}


class _Unread:
    """A document as a frame brought it (its wire form, the frame's tensor bytes, its row of the batch's columns), not yet read."""

    __slots__ = ('wire', 'blobs', 'cols', 'row')

    def __init__(self, wire, blobs, cols, row):
        self.wire = wire
        self.blobs = blobs
        self.cols = cols
        self.row = row

    def read(self):
        with tensor.reading(self.blobs):
            doc = Document(self.wire)
        for field, col in self.cols.items():
            setattr(doc, '_' + field, col.row(self.row))
        return doc


class _ChildArray(DocumentArray):
    """A Document's chunks (each gets its parent's id and one granularity deeper) or matches (one adjacency further)."""

    def __init__(self, owner, kind, docs=None):
        self._owner = owner
        self._kind = kind
        super().__init__(docs)

    def _adopt(self, doc):
        doc = super()._adopt(doc)
        if self._kind == 'chunk':
            doc.parent_id = self._owner.id
            doc.granularity = (self._owner.granularity or 0) + 1
        else:
            doc.adjacency = (self._owner.adjacency or 0) + 1
        return doc


def _distances(queries, index, metric):
    np = tensor.np
    if callable(metric):
        return metric(np.stack(queries) if np is not None else queries, np.stack(index) if np is not None else index)
    if metric not in ('cosine', 'euclidean', 'sqeuclidean'):
        raise ValueError(f"metric must be 'cosine', 'euclidean', 'sqeuclidean' or a function, got {metric!r}")
    if np is not None:
        q = np.stack([np.asarray(x, dtype=np.float64).ravel() for x in queries])
        x = np.stack([np.asarray(y, dtype=np.float64).ravel() for y in index])
        if q.shape[1] != x.shape[1]:
            raise ValueError(f'embeddings of different sizes: {q.shape[1]} and {x.shape[1]}')
        if metric == 'cosine':
            qn = np.linalg.norm(q, axis=1, keepdims=True)
            xn = np.linalg.norm(x, axis=1, keepdims=True)
            return 1 - (q @ x.T) / np.maximum(qn @ xn.T, 1e-12)
        sq = (q * q).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * q @ x.T
        sq = np.maximum(sq, 0)
        return sq if metric == 'sqeuclidean' else np.sqrt(sq)
    out = []
    for a in queries:
        row = []
        for b in index:
            if len(a) != len(b):
                raise ValueError(f'embeddings of different sizes: {len(a)} and {len(b)}')
            dot = sum(p * r for p, r in zip(a, b))
            sq = sum((p - r) ** 2 for p, r in zip(a, b))
            if metric == 'cosine':
                na = sum(p * p for p in a) ** 0.5
                nb = sum(r * r for r in b) ** 0.5
                row.append(1 - dot / max(na * nb, 1e-12))
            else:
                row.append(sq if metric == 'sqeuclidean' else sq ** 0.5)
        out.append(row)
    return out
