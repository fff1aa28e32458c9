// Structural sharing: a value recomputed from scratch (a view rebuilt from
// the document, a selector's result) keeps the identity of every part that
// did not change, so React's identity checks (useSyncExternalStore,
// memo) skip what is equal without comparing it again.

/**
 * share returns prev when next is deeply equal to it, and otherwise next
 * with every deeply equal part replaced by prev's, so `share(a, b) === a`
 * exactly when nothing changed and an unchanged block keeps its object.
 * It walks arrays, plain objects (also those without a prototype, as the
 * view's records are) and byte arrays; anything else (class instances,
 * functions, Maps) is compared by identity. Neither argument is modified:
 * where something changed, the containers on its path are new.
 */
export function share<T>(prev: unknown, next: T): T {
  if (Object.is(prev, next)) return prev as T;
  if (Array.isArray(prev) && Array.isArray(next)) {
    let same = prev.length === next.length;
    const out = new Array<unknown>(next.length);
    for (let i = 0; i < next.length; i++) {
      out[i] = share(prev[i], next[i]);
      if (same && out[i] !== prev[i]) same = false;
    }
    return (same ? prev : out) as T;
  }
  if (isRecord(prev) && isRecord(next)) {
    const pk = Object.keys(prev);
    const nk = Object.keys(next);
    // Key order counts: a record's order is what Object.keys and for…in show.
    let same = pk.length === nk.length && Object.getPrototypeOf(prev) === Object.getPrototypeOf(next);
    const out = Object.create(Object.getPrototypeOf(next)) as Record<string, unknown>;
    for (let i = 0; i < nk.length; i++) {
      const k = nk[i];
      const v = Object.hasOwn(prev, k) ? share(prev[k], next[k]) : next[k];
      out[k] = v;
      if (same && (pk[i] !== k || v !== prev[k])) same = false;
    }
    return (same ? prev : out) as T;
  }
  if (prev instanceof Uint8Array && next instanceof Uint8Array) {
    return (sameBytes(prev, next) ? prev : next) as T;
  }
  return next;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
