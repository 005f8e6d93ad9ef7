"""Unit tests of the runtime's `jina` package (src/runtime/python/jina), run with Debian's python3."""
import os
import tempfile
import unittest

import numpy as np

from jina import Document, DocumentArray, Executor, requests, __version__
from jina import _wire, _worker, tensor
from jina.executor import call, handler_for


class DocumentTest(unittest.TestCase):
    def test_fields_ids_and_tags(self):
        d = Document(text='hi', mime_type='text/plain', foo='bar')
        self.assertEqual(len(d.id), 32)
        self.assertEqual(d.tags, {'foo': 'bar'})  # unknown fields go to tags, as in Jina
        self.assertEqual((d.content, d.content_type), ('hi', 'text'))
        d.content = b'\x00\x01'
        self.assertEqual((d.buffer, d.text), (b'\x00\x01', None))
        d.scores['cosine'] = 0.25
        self.assertEqual((d.scores['cosine'].value, d.get_attributes('tags__foo')), (0.25, 'bar'))

    def test_chunks_and_matches_know_their_parent(self):
        d = Document(id='p')
        d.chunks.append(Document(text='c'))
        d.matches.append(Document(text='m'))
        self.assertEqual((d.chunks[0].parent_id, d.chunks[0].granularity, d.matches[0].adjacency), ('p', 1, 1))

    def test_tensors_keep_dtype_and_shape_on_the_wire(self):
        d = Document(blob=np.arange(6, dtype=np.int16).reshape(2, 3), embedding=[0.5, 1.5])
        wire = d._to_wire()
        self.assertEqual((wire['blob']['dense']['dtype'], wire['blob']['dense']['shape']), ('<i2', [2, 3]))
        back = Document(wire)
        self.assertEqual(back.blob.shape, (2, 3))
        np.testing.assert_array_equal(back.embedding, [0.5, 1.5])
        untouched = Document(wire)._to_wire()  # never read: the same bytes go on
        self.assertIs(untouched['blob']['dense']['buffer'], wire['blob']['dense']['buffer'])

    def test_without_numpy_a_tensor_reads_as_numbers(self):
        raw = Document(embedding=np.array([1, 2], dtype=np.float32))._to_wire()['embedding']
        saved, tensor.np = tensor.np, None
        try:
            self.assertEqual(Document({'embedding': raw}).embedding, [1.0, 2.0])
            self.assertEqual(Document(text='only text').dict()['text'], 'only text')
        finally:
            tensor.np = saved


class DocumentArrayTest(unittest.TestCase):
    def setUp(self):
        self.da = DocumentArray([Document(id=f'd{i}', text=f't{i}', embedding=np.array([1.0, i])) for i in range(4)])

    def test_indexing(self):
        da = self.da
        self.assertEqual((len(da), da[0].id, da['d2'].text, 'd3' in da, 'zz' in da), (4, 'd0', 't2', True, False))
        self.assertIsInstance(da[1:3], DocumentArray)
        self.assertEqual([d.id for d in da[1:3]], ['d1', 'd2'])
        self.assertEqual(da.texts, ['t0', 't1', 't2', 't3'])
        self.assertEqual(da.embeddings.shape, (4, 2))
        self.assertEqual(da.get_attributes('id', 'text'), [['d0', 'd1', 'd2', 'd3'], ['t0', 't1', 't2', 't3']])
        del da['d0']
        self.assertEqual(len(da), 3)

    def test_traverse_flat(self):
        self.da[0].chunks.append(Document(id='c', chunks=[Document(id='cc')]))
        self.da[0].chunks[0].matches.append(Document(id='cm'))
        self.assertEqual([d.id for d in self.da.traverse_flat(['c', 'cm'])], ['c', 'cm'])
        self.assertEqual([d.id for d in self.da.traverse_flat('cc')], ['cc'])
        self.assertRaises(ValueError, self.da.traverse_flat, 'x')

    def test_match_by_cosine_nearest_first(self):
        q = DocumentArray([Document(id='q', embedding=np.array([1.0, 3.0]))])
        q.match(self.da, limit=2)
        self.assertEqual([m.id for m in q[0].matches], ['d3', 'd2'])
        s = q[0].matches[0].scores['cosine']
        self.assertEqual((s.op_name, s.ref_id), ('cosine', 'q'))
        self.assertLess(s.value, q[0].matches[1].scores['cosine'].value)
        q.match(self.da, metric='euclidean', limit=1)
        self.assertEqual(q[0].matches[0].id, 'd3')

    def test_save_and_load(self):
        with tempfile.TemporaryDirectory() as tmp:
            for fmt in ('json', 'binary'):
                self.da.save(os.path.join(tmp, fmt), file_format=fmt)
                back = DocumentArray.load(os.path.join(tmp, fmt), file_format=fmt)
                self.assertEqual([d.id for d in back], [d.id for d in self.da])
                np.testing.assert_array_equal(back.embeddings, self.da.embeddings)


class Exec(Executor):
    def __init__(self, greeting='hi', *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.greeting = greeting

    @requests
    def default(self, docs, **kwargs):
        return 'default'

    @requests(on=['/index', '/update'])
    def index(self, docs, parameters):
        return parameters


class ExecutorTest(unittest.TestCase):
    def test_requests_bind_endpoints_and_the_default(self):
        e = Exec(greeting='yo', metas={'name': 'ex'})
        self.assertEqual((e.greeting, e.metas.name, e.runtime_args.replicas), ('yo', 'ex', 1))
        self.assertEqual(handler_for(e, '/update'), e.index)
        self.assertEqual(handler_for(e, '/other'), e.default)
        # Only the keyword arguments a method takes (this one has no **kwargs).
        self.assertEqual(call(handler_for(e, '/index'), docs=DocumentArray(), parameters={'a': 1}, docs_matrix=None), {'a': 1})

    def test_workspace_is_made_per_executor(self):
        with tempfile.TemporaryDirectory() as tmp:
            e = Exec(metas={'name': 'ex', 'workspace': tmp}, runtime_args={'replicas': 2, 'replica_id': 1})
            self.assertEqual(e.workspace, os.path.join(tmp, 'ex', '1'))
            self.assertTrue(os.path.isdir(e.workspace))

    def test_version(self):
        self.assertTrue(__version__.startswith('2.'))


def frame_batch(n, dim=4):
    """A batch as a Pea sends it: n documents whose float32 embeddings go as one column, and its blobs."""
    m = np.arange(n * dim, dtype=np.float32).reshape(n, dim)
    docs = _wire.pack([{'id': f'd{i}', 'text': f't{i}'} for i in range(n)])  # a batch's documents are msgpack in the frame
    batch = {'docs': docs, 'n': n, 'span': [1, 1], 'cols': {'embedding': {'blob': 0, 'shape': [dim], 'dtype': '<f4'}}}
    return batch, [memoryview(m.tobytes())], m


def answer(da, came):
    with tensor.writing() as blobs:
        return da._to_frame(came), blobs


class FrameTest(unittest.TestCase):
    """Batches between a Pea and its worker: columns in, and only what changed back."""

    def test_untouched_documents_answer_same_and_send_no_bytes(self):
        batch, blobs, m = frame_batch(3)
        da = DocumentArray._from_frame(batch, blobs)
        came = da._batch
        self.assertEqual(da.texts, ['t0', 't1', 't2'])  # read from the wire: still unread
        np.testing.assert_array_equal(da.embeddings, m)
        da.embeddings[0, 0] = 99  # a copy: the frame does not change
        self.assertEqual(answer(da, came), ({'same': True}, []))

    def test_embeddings_set_whole_go_back_as_one_column(self):
        batch, blobs, m = frame_batch(3)
        da = DocumentArray._from_frame(batch, blobs)
        came = da._batch
        da.embeddings = (m * 2).astype(np.float64)
        out, sent = answer(da, came)
        self.assertEqual(out, {'same': True, 'cols': {'embedding': {'blob': 0, 'shape': [4], 'dtype': '<f8'}}})
        np.testing.assert_array_equal(np.frombuffer(sent[0], dtype='<f8').reshape(3, 4), m * 2)

    def test_a_document_read_sends_the_batch_again_with_its_change(self):
        batch, blobs, m = frame_batch(3)
        da = DocumentArray._from_frame(batch, blobs)
        came = da._batch
        da[1].embedding[0] = -1  # its own copy of the row, changed in place
        da[2].tags['seen'] = True
        out, sent = answer(da, came)
        self.assertEqual([d['id'] for d in out['docs']], ['d0', 'd1', 'd2'])
        self.assertEqual(out['docs'][2]['tags'], {'seen': True})
        self.assertNotIn('embedding', out['docs'][0])  # still a column
        want = m.copy()
        want[1, 0] = -1
        np.testing.assert_array_equal(np.frombuffer(sent[out['cols']['embedding']['blob']], dtype='<f4').reshape(3, 4), want)
        np.testing.assert_array_equal(np.frombuffer(blobs[0], dtype='<f4').reshape(3, 4), m)  # the frame itself is not written

    def test_rows_of_different_shapes_go_one_by_one(self):
        batch, blobs, m = frame_batch(2)
        da = DocumentArray._from_frame(batch, blobs)
        da[0].embedding = np.zeros(7)
        out, sent = answer(da, da._batch)
        self.assertNotIn('cols', out)
        shapes = [d['embedding']['dense']['shape'] for d in out['docs']]
        self.assertEqual(shapes, [[7], [4]])
        np.testing.assert_array_equal(np.frombuffer(sent[out['docs'][1]['embedding']['dense']['buffer']], dtype='<f4'), m[1])

    def test_a_slice_or_another_batch_is_not_the_same(self):
        batch, blobs, m = frame_batch(4)
        da = DocumentArray._from_frame(batch, blobs)
        came = da._batch
        out, sent = answer(da[:2], came)
        self.assertEqual([d['id'] for d in out['docs']], ['d0', 'd1'])
        np.testing.assert_array_equal(np.frombuffer(sent[out['cols']['embedding']['blob']], dtype='<f4').reshape(2, 4), m[:2])

    def test_a_worker_names_its_blobs_after_the_frames_own(self):
        class ReadOne(Executor):
            @requests
            def run(self, docs, **kwargs):
                docs[0].embedding = np.zeros(3)  # another shape: no column goes back

        batch, blobs, m = frame_batch(2)
        reply, sent = _worker.handle(ReadOne(), 'read-one', {'id': 7, 'endpoint': '/', 'docs': batch, 'base': 5}, blobs)
        out = reply['docs']
        docs = _wire.unpack(out['docs'])
        self.assertEqual((reply['id'], out['n'], out['span'], [d['id'] for d in docs]), (7, 2, [5, 7], ['d0', 'd1']))
        self.assertEqual([d['embedding']['dense']['buffer'] for d in docs], [5, 6])
        np.testing.assert_array_equal(np.frombuffer(sent[1], dtype='<f4'), m[1])  # the unread row, as it came

    def test_a_column_of_the_wrong_size_is_refused(self):
        batch, blobs, _ = frame_batch(3)
        with self.assertRaisesRegex(ValueError, 'needs 48 bytes, got 32'):
            DocumentArray._from_frame(batch, [blobs[0][:32]])

    def test_without_numpy_a_column_reads_as_numbers_and_goes_back_row_by_row(self):
        batch, blobs, _ = frame_batch(2, dim=2)
        saved, tensor.np = tensor.np, None
        try:
            da = DocumentArray._from_frame(batch, blobs)
            self.assertEqual(da[1].embedding, [2.0, 3.0])
            out, sent = answer(da, None)
            self.assertNotIn('cols', out)
            # The unread row as it came; the one read as numbers goes as float64, as lists do without numpy.
            self.assertEqual([bytes(b) for b in sent], [np.array([0, 1], dtype='<f4').tobytes(), np.array([2, 3], dtype='<f8').tobytes()])
        finally:
            tensor.np = saved


if __name__ == '__main__':
    unittest.main()
