// The JSON form of a View: exactly what Go's json.Marshal(doc.View()) gives
// (crdt/workflow/view.go's struct tags, fields.go's Value.MarshalJSON and
// json.go), as a JSON-shaped JavaScript object. It is what an app sends to a
// server or stores, and what the cross-language conformance tests compare:
// deep-equal to the Go JSON parsed with JSON.parse.
//
// Go's rules, mirrored here:
//   - every Value is rendered by decoding its msgpack; a value that is msgpack
//     bin at the top level renders as a string of its bytes (json.go), while
//     bin nested in an array or map renders as base64, as encoding/json
//     renders []byte;
//   - strings are UTF-8 and encoding/json replaces each invalid byte with
//     U+FFFD, so bytes turned into a string here follow the same rule;
//   - `omitempty` fields (retry, whileCondition, doWhileCondition, an edge's
//     sourceHandle, targetHandle and type) are left out when empty;
//   - json.Marshal refuses NaN and ±Infinity (UnsupportedValueError), so
//     viewToJSON throws a RangeError for them rather than emit a form Go
//     never produces.
// Map key order is irrelevant (Go sorts keys; consumers compare objects);
// array order matters and is the view's.

import { decodeUtf8Go } from '../msgpackx/reader';
import type { BlockView, Edge, LoopView, ParallelView, SubBlockView, VariableView, View, ViewValue } from './view';

/** A JSON value as JSON.parse returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** JSON form of an Edge: empty handles and type are omitted. */
export interface EdgeJSON {
  id: string;
  source: string;
  sourceHandle?: string;
  target: string;
  targetHandle?: string;
  type?: string;
}

/** JSON form of a View, key for key what Go marshals. */
export interface ViewJSON {
  blocks: Record<string, BlockJSON>;
  edges: EdgeJSON[];
  loops: Record<string, LoopJSON>;
  parallels: Record<string, ParallelJSON>;
  variables: Record<string, VariableJSON>;
  order: string[];
}

export interface BlockJSON {
  id: string;
  type: string;
  name: string;
  position: { x: number; y: number };
  subBlocks: Record<string, { id: string; type: string; value: JsonValue }>;
  outputs: JsonValue;
  enabled: boolean;
  horizontalHandles: boolean;
  isWide: boolean;
  advancedMode: boolean;
  triggerMode: boolean;
  errorEnabled: boolean;
  height: number;
  locked: boolean;
  retry?: JsonValue;
  data: Record<string, JsonValue>;
}

export interface LoopJSON {
  id: string;
  nodes: string[];
  iterations: number;
  loopType: string;
  forEachItems: JsonValue;
  whileCondition?: string;
  doWhileCondition?: string;
}

export interface ParallelJSON {
  id: string;
  nodes: string[];
  count: number;
  parallelType: string;
  distribution: JsonValue;
  batchSize: number;
}

export interface VariableJSON {
  id: string;
  name: string;
  type: string;
  value: JsonValue;
}

/**
 * Returns the JSON form of a view: what Go's json.Marshal(doc.View())
 * produces, parsed. JSON.stringify(viewToJSON(v)) is a valid wire form.
 * Throws a RangeError where Go's json.Marshal fails (a NaN or infinite
 * number). Its records, like the View's, have no prototype so that any id is
 * an ordinary key: use Object.hasOwn(rec, id), not rec.hasOwnProperty(id).
 */
export function viewToJSON(view: View): ViewJSON {
  return {
    blocks: mapRecord(view.blocks, blockToJSON),
    edges: view.edges.map(edgeToJSON),
    loops: mapRecord(view.loops, loopToJSON),
    parallels: mapRecord(view.parallels, parallelToJSON),
    variables: mapRecord(view.variables, variableToJSON),
    order: [...view.order],
  };
}

/**
 * Builds a record without a prototype so that an id like "__proto__" is an
 * ordinary key (assigning it on a plain object would set the prototype).
 */
function mapRecord<T, U>(rec: Record<string, T>, fn: (v: T) => U): Record<string, U> {
  const out = Object.create(null) as Record<string, U>;
  for (const k of Object.keys(rec)) out[k] = fn(rec[k]);
  return out;
}

export function edgeToJSON(e: Edge): EdgeJSON {
  const out: EdgeJSON = { id: e.id, source: e.source, target: e.target };
  if (e.sourceHandle !== '') out.sourceHandle = e.sourceHandle;
  if (e.targetHandle !== '') out.targetHandle = e.targetHandle;
  if (e.type !== '') out.type = e.type;
  return out;
}

function blockToJSON(b: BlockView): BlockJSON {
  const out: BlockJSON = {
    id: b.id,
    type: b.type,
    name: b.name,
    position: { x: finite(b.position.x), y: finite(b.position.y) },
    subBlocks: mapRecord(b.subBlocks, subBlockToJSON),
    outputs: valueToJSON(b.outputs),
    enabled: b.enabled,
    horizontalHandles: b.horizontalHandles,
    isWide: b.isWide,
    advancedMode: b.advancedMode,
    triggerMode: b.triggerMode,
    errorEnabled: b.errorEnabled,
    height: finite(b.height),
    locked: b.locked,
    data: mapRecord(b.data, valueToJSON),
  };
  if (b.retry !== undefined) out.retry = valueToJSON(b.retry);
  return out;
}

function subBlockToJSON(s: SubBlockView): { id: string; type: string; value: JsonValue } {
  return { id: s.id, type: s.type, value: valueToJSON(s.value) };
}

function loopToJSON(l: LoopView): LoopJSON {
  const out: LoopJSON = {
    id: l.id,
    nodes: [...l.nodes],
    iterations: finite(l.iterations),
    loopType: l.loopType,
    forEachItems: valueToJSON(l.forEachItems),
  };
  if (l.whileCondition !== '') out.whileCondition = l.whileCondition;
  if (l.doWhileCondition !== '') out.doWhileCondition = l.doWhileCondition;
  return out;
}

function parallelToJSON(p: ParallelView): ParallelJSON {
  return {
    id: p.id,
    nodes: [...p.nodes],
    count: finite(p.count),
    parallelType: p.parallelType,
    distribution: valueToJSON(p.distribution),
    batchSize: finite(p.batchSize),
  };
}

function variableToJSON(v: VariableView): VariableJSON {
  return { id: v.id, name: v.name, type: v.type, value: valueToJSON(v.value) };
}

/**
 * Renders one field value as Go's Value.MarshalJSON does: a top-level bin as
 * the string of its bytes, everything else as nested JSON.
 */
export function valueToJSON(v: ViewValue): JsonValue {
  if (v instanceof Uint8Array) return goString(v);
  return nestedToJSON(v);
}

function nestedToJSON(v: ViewValue): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return finite(v);
  // Go's int64 and uint64 marshal exactly; a JavaScript JSON number cannot
  // hold them, so they become the nearest double, which is also what
  // JSON.parse makes of Go's output.
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return base64(v);
  if (Array.isArray(v)) return v.map(nestedToJSON);
  const out = Object.create(null) as Record<string, JsonValue>;
  for (const k of Object.keys(v)) out[k] = nestedToJSON(v[k]);
  return out;
}

function finite(n: number): number {
  if (!Number.isFinite(n)) {
    throw new RangeError(`json: unsupported value: ${n} (Go's json.Marshal refuses it too)`);
  }
  return n;
}

const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding, as encoding/json writes a nested []byte. */
export function base64(b: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += b64[n >>> 18] + b64[(n >>> 12) & 63] + b64[(n >>> 6) & 63] + b64[n & 63];
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    out += b64[n >>> 18] + b64[(n >>> 12) & 63];
    out += i + 1 < b.length ? b64[(n >>> 6) & 63] + '=' : '==';
  }
  return out;
}

/**
 * Turns bytes into a string the way Go's encoding/json writes string(b):
 * valid UTF-8 sequences become their characters, and every byte that does
 * not start a valid sequence becomes one U+FFFD (utf8.DecodeRune returns
 * RuneError of width 1 for it). TextDecoder would replace a truncated
 * sequence with a single U+FFFD instead, so it cannot be used here.
 */
export function goString(b: Uint8Array): string {
  return decodeUtf8Go(b);
}
