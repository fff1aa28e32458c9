// Port of crdt/dot.go: replica ids, dots and the counter bound.

/**
 * Names a replica that authors writes: a device (a browser profile, an
 * offline editor install) or a server node. It must not name a connection or
 * a tab: every id ever used stays in the causal context of the documents it
 * wrote to, so ids should be few and long-lived. (Go: crdt.ReplicaID.)
 */
export type ReplicaID = string;

/**
 * The largest counter a dot may have: 2^53-1, the largest integer every
 * language's number type holds exactly. Decoders refuse larger counters, so a
 * hostile context cannot push a replica's next counter past the end of the
 * range — and in JavaScript every counter is an exact number.
 */
export const MaxCounter = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/**
 * Identifies one write: the replica that made it and that replica's counter,
 * starting at 1 and growing by one per write.
 */
export interface Dot {
  readonly replica: ReplicaID;
  readonly counter: number;
}

/** Renders a dot as Go's Dot.String does: "replica:counter". */
export function dotString(d: Dot): string {
  return `${d.replica}:${d.counter}`;
}

/** Reports whether two dots are the same write. */
export function sameDot(a: Dot, b: Dot): boolean {
  return a.counter === b.counter && a.replica === b.replica;
}

/**
 * Orders strings by their UTF-8 bytes, as Go's < on strings does. Replica ids,
 * block ids and map keys are sorted this way in every encoding, so both
 * languages write the same bytes. JavaScript's < compares UTF-16 code units,
 * which puts astral characters (surrogate pairs, U+D800–U+DFFF) before
 * U+E000–U+FFFF; UTF-8 byte order is code point order, which puts them after.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Only a surrogate against a unit in U+E000–U+FFFF orders differently.
      if (x >= 0xd800 && y >= 0xd800) {
        const xs = x <= 0xdfff;
        const ys = y <= 0xdfff;
        if (xs !== ys) return xs ? 1 : -1;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Orders dots by replica id (bytewise), then counter. (Go: compareDots.) */
export function compareDots(a: Dot, b: Dot): number {
  const c = compareStrings(a.replica, b.replica);
  if (c !== 0) return c;
  return a.counter < b.counter ? -1 : a.counter > b.counter ? 1 : 0;
}

/**
 * Checks that n is a valid counter (an integer in 1..MaxCounter) and throws
 * a RangeError otherwise: a counter that is not an exact integer would make
 * two replicas disagree about which dots a context holds.
 */
export function checkCounter(n: number, what = 'counter'): void {
  if (!Number.isInteger(n) || n < 1 || n > MaxCounter) {
    throw new RangeError(`crdt: ${what} ${n} is not an integer in 1..${MaxCounter}`);
  }
}
