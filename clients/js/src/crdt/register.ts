// Port of crdt/register.go: last-writer-wins registers.

import { compareDots, type Dot } from './dot';
import type { Dotted } from './dotmap';
import { compareTimestamps, type Timestamp } from './hlc';

/**
 * A value stamped with the hybrid logical time of its write. The writing
 * replica is the replica of the dot the register is stored under, so it is
 * not stored twice.
 */
export interface Register<V> {
  readonly wall: number;
  readonly logical: number;
  readonly value: V;
}

/** The register's full timestamp given the dot it is stored under. (Go: Register.Stamp.) */
export function stamp<V>(r: Register<V>, d: Dot): Timestamp {
  return { wall: r.wall, logical: r.logical, replica: d.replica };
}

/**
 * The index of the register last-writer-wins picks among concurrent values:
 * the greatest timestamp, then the greatest dot; -1 for an empty array.
 */
export function winner<V>(es: readonly Dotted<Register<V>>[]): number {
  let best = -1;
  for (let i = 0; i < es.length; i++) {
    if (best < 0 || laterThan(es[i], es[best])) best = i;
  }
  return best;
}

/** Reports whether a wins over b. */
export function laterThan<V>(a: Dotted<Register<V>>, b: Dotted<Register<V>>): boolean {
  const c = compareTimestamps(stamp(a.value, a.dot), stamp(b.value, b.dot));
  if (c !== 0) return c > 0;
  return compareDots(a.dot, b.dot) > 0;
}
