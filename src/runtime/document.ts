/**
 * Documents as Jina 2 users know them, as plain JSON on the wire. Field names follow Jina 2's
 * HTTP (protobuf JSON) spelling: camelCase (`mimeType`, `parentId`); snake_case is accepted on
 * input. `embedding` and `blob` are tensors: Jina's dense form on the wire (dtype and shape kept,
 * see tensor.ts), number arrays to executors. `scores` maps a name to `{ value, … }`.
 */
import { randomUUID } from 'node:crypto';
import { decodeDense, type DenseTensor, isDense, tensorOut } from './tensor.ts';

export interface NamedScore {
  value: number;
  opName?: string;
  description?: string;
  refId?: string;
}

export interface DocumentData {
  id?: string;
  text?: string;
  /** base64 bytes */
  buffer?: string;
  /** a tensor (Jina 2's `blob`): dense, or numbers */
  blob?: number[] | DenseTensor;
  uri?: string;
  mimeType?: string;
  tags?: Record<string, unknown>;
  embedding?: number[] | DenseTensor;
  chunks?: DocumentData[];
  matches?: DocumentData[];
  scores?: Record<string, NamedScore>;
  evaluations?: Record<string, NamedScore>;
  granularity?: number;
  adjacency?: number;
  parentId?: string;
  modality?: string;
  weight?: number;
  location?: number[];
  offset?: number;
}

const SNAKE: Record<string, keyof DocumentData> = { mime_type: 'mimeType', parent_id: 'parentId' };
const FIELDS = new Set<string>([
  'id', 'text', 'buffer', 'blob', 'uri', 'mimeType', 'tags', 'embedding', 'chunks', 'matches', 'scores',
  'evaluations', 'granularity', 'adjacency', 'parentId', 'modality', 'weight', 'location', 'offset',
]);

/** A Jina-style id: 32 hex characters. */
export const newDocId = () => randomUUID().replaceAll('-', '');

export class Document {
  id: string;
  text?: string;
  buffer?: string;
  uri?: string;
  mimeType?: string;
  tags: Record<string, unknown>;
  chunks: DocumentArray;
  matches: DocumentArray;
  scores: Record<string, NamedScore>;
  evaluations?: Record<string, NamedScore>;
  granularity?: number;
  adjacency?: number;
  parentId?: string;
  modality?: string;
  weight?: number;
  location?: number[];
  offset?: number;

  /** Tensors as they came (dense), and as numbers once read. */
  #wire: { embedding?: DenseTensor; blob?: DenseTensor } = {};
  #values: { embedding?: number[]; blob?: number[] } = {};

  /** The embedding's values, flat (decoded from the dense form on first read). */
  get embedding(): number[] | undefined {
    return this.#read('embedding');
  }
  set embedding(v: number[] | DenseTensor | undefined) {
    this.#write('embedding', v);
  }
  /** Jina 2's `blob`: a tensor's values, flat. */
  get blob(): number[] | undefined {
    return this.#read('blob');
  }
  set blob(v: number[] | DenseTensor | undefined) {
    this.#write('blob', v);
  }
  #read(key: 'embedding' | 'blob'): number[] | undefined {
    const wire = this.#wire[key];
    if (this.#values[key] === undefined && wire) this.#values[key] = decodeDense(wire);
    return this.#values[key];
  }
  #write(key: 'embedding' | 'blob', v: number[] | DenseTensor | undefined): void {
    if (isDense(v)) {
      this.#wire[key] = v;
      this.#values[key] = undefined;
    } else {
      this.#values[key] = v; // the dense form stays for its dtype and shape
      if (v === undefined) this.#wire[key] = undefined;
    }
  }

  /** From JSON (unknown keys go to `tags`, as Jina's HTTP model does), or a text. */
  constructor(data: DocumentData | string = {}) {
    const d: Record<string, unknown> = typeof data === 'string' ? { text: data } : { ...data };
    const tags: Record<string, unknown> = { ...((d.tags as Record<string, unknown>) ?? {}) };
    for (const [k, v] of Object.entries(d)) {
      const key = SNAKE[k] ?? k;
      if (key === 'tags' || key === 'chunks' || key === 'matches' || key === 'scores' || v === undefined || v === null) continue;
      if (FIELDS.has(key)) (this as Record<string, unknown>)[key] = v;
      else tags[k] = v;
    }
    this.id = (d.id as string) || newDocId();
    this.tags = tags;
    this.scores = { ...((d.scores as Record<string, NamedScore>) ?? {}) };
    this.chunks = DocumentArray.from((d.chunks as DocumentData[]) ?? []);
    this.matches = DocumentArray.from((d.matches as DocumentData[]) ?? []);
  }

  toJSON(): DocumentData {
    const out: Record<string, unknown> = {};
    for (const key of FIELDS) {
      if (key === 'embedding' || key === 'blob') {
        const t = tensorOut(this.#wire[key], this.#values[key]);
        if (t !== undefined) out[key] = t;
        continue;
      }
      const v = (this as Record<string, unknown>)[key];
      if (v === undefined) continue;
      if (v instanceof DocumentArray) {
        if (v.length) out[key] = v.toJSON();
      } else if (key === 'scores' || key === 'tags') {
        if (Object.keys(v as object).length) out[key] = v;
      } else out[key] = v;
    }
    return out as DocumentData;
  }
}

export type Metric = 'cosine' | 'euclidean';

function distance(a: number[], b: number[], metric: Metric): number {
  if (a.length !== b.length) throw new Error(`embeddings of different sizes: ${a.length} and ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  let sq = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
    sq += (a[i]! - b[i]!) ** 2;
  }
  return metric === 'euclidean' ? Math.sqrt(sq) : 1 - dot / (Math.sqrt(na) * Math.sqrt(nb) || 1);
}

/** What a DocumentArray is made from: Documents, their JSON, or texts. */
type DocLike = Document | DocumentData | string;
const toDocument = (d: DocLike) => (d instanceof Document ? d : new Document(d));

/**
 * An ordered list of Documents, as Jina users write it: an Array (`docs[0]`, `docs.length`,
 * `for…of`, spreading, every array method) with Jina's own accessors and operations on top.
 * Array methods that make a new array (`map`, `slice`, `concat`, …) give plain arrays; `filter`
 * gives a DocumentArray.
 */
// @ts-expect-error: its `from` takes documents only, narrower than Array.from's generic signature.
export class DocumentArray extends Array<Document> {
  static override get [Symbol.species]() {
    return Array;
  }

  constructor(docs: Iterable<DocLike> = []) {
    super();
    for (const d of docs) super.push(toDocument(d));
  }

  /** These documents as a DocumentArray (itself when it already is one). */
  static override from(docs: Iterable<DocLike> | DocumentArray): DocumentArray {
    return docs instanceof DocumentArray ? docs : new DocumentArray(docs);
  }

  /** The document with this id. */
  get(id: string): Document | undefined {
    return this.find((d) => d.id === id);
  }
  append(doc: DocLike): this {
    super.push(toDocument(doc));
    return this;
  }
  extend(docs: Iterable<DocLike>): this {
    for (const d of docs) this.append(d);
    return this;
  }
  override push(...docs: DocLike[]): number {
    return super.push(...docs.map(toDocument));
  }
  override filter(fn: (d: Document, i: number, all: Document[]) => unknown): DocumentArray {
    const kept: Document[] = [];
    this.forEach((d, i, all) => fn(d, i, all) && kept.push(d));
    return new DocumentArray(kept);
  }

  /** Every document's text (Jina's `docs.texts`). */
  get texts(): (string | undefined)[] {
    return this.map((d) => d.text);
  }
  set texts(texts: (string | undefined)[]) {
    this.assign(texts, (d, t) => (d.text = t));
  }
  /** Every document's embedding, as a matrix (rows in document order; Jina's `docs.embeddings`). */
  get embeddings(): number[][] {
    return this.map((d, i) => {
      if (!d.embedding) throw new Error(`document ${i} (${d.id}) has no embedding`);
      return d.embedding;
    });
  }
  set embeddings(rows: number[][]) {
    this.assign(rows, (d, e) => (d.embedding = e));
  }
  /** Every document's tags (Jina's `docs.tags`). */
  get tags(): Record<string, unknown>[] {
    return this.map((d) => d.tags);
  }
  private assign<T>(values: T[], set: (d: Document, v: T) => void): void {
    if (values.length !== this.length) throw new Error(`expected ${this.length} values, one per document, got ${values.length}`);
    this.forEach((d, i) => set(d, values[i]!));
  }

  /**
   * The documents along a traversal path, flattened (Jina's `traverse_flat`): `r` these documents,
   * `c` their chunks, `m` their matches, combined (`cc` the chunks' chunks, `cm` the chunks'
   * matches), several paths comma-separated: `'r,c,m'`.
   */
  traverseFlat(paths: string | string[]): DocumentArray {
    const out = new DocumentArray();
    for (const path of typeof paths === 'string' ? paths.split(',') : paths) {
      const p = path.trim();
      if (!/^(r|[cm]+)$/.test(p)) throw new Error(`traversal path '${p}': expected r, or c and m letters (c chunks, m matches), like 'r,c,cm'`);
      let level: Document[] = [...this];
      if (p !== 'r') for (const step of p) level = level.flatMap((d) => [...(step === 'c' ? d.chunks : d.matches)]);
      out.push(...level);
    }
    return out;
  }

  /** Sort in place by a named score (`matches.sortByScore('cosine')`), best first. */
  sortByScore(name: string, order: 'asc' | 'desc' = 'desc'): this {
    const sign = order === 'desc' ? -1 : 1;
    this.sort((a, b) => sign * ((a.scores[name]?.value ?? -Infinity) - (b.scores[name]?.value ?? -Infinity)));
    return this;
  }
  /**
   * For each of these documents, find the `limit` nearest documents of `index` by embedding
   * and set them as its matches, scored under the metric's name (lower distance first).
   */
  match(index: DocumentArray, opts: { metric?: Metric; limit?: number } = {}): this {
    const metric = opts.metric ?? 'cosine';
    const limit = opts.limit ?? 10;
    for (const q of this) {
      if (!q.embedding) continue;
      const scored = [...index]
        .filter((d) => d.embedding)
        .map((d) => ({ d, s: distance(q.embedding!, d.embedding!, metric) }))
        .sort((a, b) => a.s - b.s)
        .slice(0, limit);
      q.matches = new DocumentArray(
        scored.map(({ d, s }) => {
          const m = new Document(d.toJSON());
          m.scores[metric] = { value: s, opName: metric, refId: q.id };
          return m;
        }),
      );
    }
    return this;
  }
  toJSON(): DocumentData[] {
    return this.map((d) => d.toJSON());
  }
}
