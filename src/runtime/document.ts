/**
 * Documents as Jina 2 users know them, as plain JSON on the wire. Field names follow Jina 2's
 * HTTP (protobuf JSON) spelling: camelCase (`mimeType`, `parentId`); snake_case is accepted on
 * input. `embedding` is a number array. `scores` maps a name to `{ value, … }`.
 */
import { randomUUID } from 'node:crypto';

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
  /** numbers of a tensor (Jina 2's `blob`) */
  blob?: number[];
  uri?: string;
  mimeType?: string;
  tags?: Record<string, unknown>;
  embedding?: number[];
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
  blob?: number[];
  uri?: string;
  mimeType?: string;
  tags: Record<string, unknown>;
  embedding?: number[];
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

/** An ordered list of Documents with the operations executors need. */
export class DocumentArray implements Iterable<Document> {
  private docs: Document[];

  constructor(docs: Iterable<Document | DocumentData | string> = []) {
    this.docs = [...docs].map((d) => (d instanceof Document ? d : new Document(d)));
  }

  static from(docs: Iterable<Document | DocumentData | string> | DocumentArray): DocumentArray {
    return docs instanceof DocumentArray ? docs : new DocumentArray(docs);
  }

  get length(): number {
    return this.docs.length;
  }
  [Symbol.iterator](): Iterator<Document> {
    return this.docs[Symbol.iterator]();
  }
  at(i: number): Document | undefined {
    return this.docs.at(i);
  }
  /** The document with this id. */
  get(id: string): Document | undefined {
    return this.docs.find((d) => d.id === id);
  }
  append(doc: Document | DocumentData | string): this {
    this.docs.push(doc instanceof Document ? doc : new Document(doc));
    return this;
  }
  extend(docs: Iterable<Document | DocumentData | string>): this {
    for (const d of docs) this.append(d);
    return this;
  }
  filter(fn: (d: Document, i: number) => boolean): DocumentArray {
    return new DocumentArray(this.docs.filter(fn));
  }
  map<T>(fn: (d: Document, i: number) => T): T[] {
    return this.docs.map(fn);
  }
  forEach(fn: (d: Document, i: number) => void): void {
    this.docs.forEach(fn);
  }
  /** Sort in place by a named score (`matches.sortByScore('cosine')`), best first. */
  sortByScore(name: string, order: 'asc' | 'desc' = 'desc'): this {
    const sign = order === 'desc' ? -1 : 1;
    this.docs.sort((a, b) => sign * ((a.scores[name]?.value ?? -Infinity) - (b.scores[name]?.value ?? -Infinity)));
    return this;
  }
  /**
   * For each of these documents, find the `limit` nearest documents of `index` by embedding
   * and set them as its matches, scored under the metric's name (lower distance first).
   */
  match(index: DocumentArray, opts: { metric?: Metric; limit?: number } = {}): this {
    const metric = opts.metric ?? 'cosine';
    const limit = opts.limit ?? 10;
    for (const q of this.docs) {
      if (!q.embedding) continue;
      const scored = index.docs
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
    return this.docs.map((d) => d.toJSON());
  }
}
