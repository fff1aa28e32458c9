// Port of crdt/workflow/util.go.

import { WorkflowError, type ErrorCode } from './errors';

/**
 * Returns the typed error for sentinel code with a detail message, Go's
 * errorf(sentinel, format, args...): callers test the code (isError), the
 * message says which block or field was at fault.
 */
export function errorf(code: ErrorCode, detail: string): WorkflowError {
  return new WorkflowError(code, detail);
}

/**
 * Orders strings as Go compares them: by their UTF-8 bytes, which is code
 * point order. JavaScript's default sort compares UTF-16 units, which puts
 * astral characters (surrogate pairs) before U+E000–U+FFFF; the operations
 * write keys in sorted order, so the order decides dot counters and must be
 * Go's.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/** Maps a UTF-16 unit to a rank that orders like the code points it belongs to. */
function utf8Rank(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000; // surrogates: code points ≥ U+10000
  if (c >= 0xe000) return c - 0x800;
  return c;
}

/** The own keys of a JSON-shaped object, in Go's sorted order (slices.Sorted(maps.Keys(m))). */
export function sortedKeys(m: object | null | undefined): string[] {
  if (m === null || m === undefined) return [];
  return Object.keys(m).sort(compareStrings);
}

/** Reads an own property of a JSON-shaped object; inherited names ("constructor") are absent. */
export function own<T>(m: Readonly<Record<string, T>> | null | undefined, k: string): T | undefined {
  if (m === null || m === undefined || !Object.prototype.hasOwnProperty.call(m, k)) return undefined;
  return m[k];
}

/** Reports whether m has k as an own property (Go's `_, ok := m[k]`). */
export function hasOwn(m: object | null | undefined, k: string): boolean {
  return m !== null && m !== undefined && Object.prototype.hasOwnProperty.call(m, k);
}

/** Reports whether v is a JSON object (Go's map[string]any): not null, an array or bytes. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Renders a value for an error message, as Go's %v would roughly. */
export function show(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Go's %q for a string, close enough for messages. */
export function q(s: string): string {
  return JSON.stringify(s);
}
