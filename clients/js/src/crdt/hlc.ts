// Port of crdt/hlc.go: hybrid logical clock readings and the clock.

import type { ReplicaID } from './dot';
import { compareStrings } from './dot';

/**
 * A hybrid logical clock reading: wall milliseconds, a logical counter for
 * events within one millisecond (or while the wall clock lags), and the
 * replica that took it. Timestamps are totally ordered; last-writer-wins
 * registers keep the write with the greatest one. wall is an integer
 * (Go int64; exact in JavaScript up to ±2^53), logical a uint32.
 */
export interface Timestamp {
  readonly wall: number;
  readonly logical: number;
  readonly replica: ReplicaID;
}

/** The largest logical counter (Go: math.MaxUint32). */
export const MaxLogical = 0xffffffff;

/**
 * Bounds the wall time of every timestamp: walls lie in [-MaxWall, MaxWall],
 * 2^53-1 ms, exactly the safe integers. Decoders refuse a timestamp outside,
 * and a Clock never leaves the range. (Go: crdt.MaxWall.)
 */
export const MaxWall = Number.MAX_SAFE_INTEGER;

/**
 * Returns -1, 0 or +1 as t is before, equal to or after u. Ties on wall and
 * logical time are broken by replica id, compared bytewise as Go does.
 * (Go: Timestamp.Compare.)
 */
export function compareTimestamps(t: Timestamp, u: Timestamp): number {
  if (t.wall < u.wall) return -1;
  if (t.wall > u.wall) return 1;
  if (t.logical < u.logical) return -1;
  if (t.logical > u.logical) return 1;
  return Math.sign(compareStrings(t.replica, u.replica));
}

/** Reports whether t is the zero timestamp. (Go: Timestamp.IsZero.) */
export function isZeroTimestamp(t: Timestamp): boolean {
  return t.wall === 0 && t.logical === 0 && t.replica === '';
}

/** The zero timestamp: what Clock.last returns before the first reading. */
export const ZeroTimestamp: Timestamp = Object.freeze({ wall: 0, logical: 0, replica: '' });

/**
 * One replica's hybrid logical clock. Its readings never run backwards,
 * whatever the wall time passed in, and after observe they are greater than
 * every timestamp observed. The caller passes wall time in (milliseconds
 * since the Unix epoch), so the clock is deterministic and testable.
 *
 * Wall times that are not safe integers throw a RangeError (Go clamps them
 * to ±MaxWall: an int64 has values beyond; a number past 2^53 has no exact
 * value to clamp). At the top of the domain the clock saturates rather than
 * leaves it: once it reads (MaxWall, MaxLogical) it keeps returning that
 * reading, as Go's does.
 */
export class Clock {
  private wallMs = 0;
  private logicalCount = 0;

  constructor(private readonly replicaId: ReplicaID) {}

  /** The replica the clock stamps. */
  replica(): ReplicaID {
    return this.replicaId;
  }

  /**
   * The latest timestamp the clock issued or observed (with this clock's
   * replica id); the zero timestamp before the first reading.
   */
  last(): Timestamp {
    if (this.wallMs === 0 && this.logicalCount === 0) return ZeroTimestamp;
    return { wall: this.wallMs, logical: this.logicalCount, replica: this.replicaId };
  }

  /**
   * Returns a timestamp greater than every earlier reading and every observed
   * timestamp. wallMillis is the caller's wall clock.
   */
  now(wallMillis: number): Timestamp {
    this.advance(wallMillis, 0, 0);
    return { wall: this.wallMs, logical: this.logicalCount, replica: this.replicaId };
  }

  /**
   * Moves the clock past a timestamp received from another replica, so that
   * the next reading orders after it.
   */
  observe(t: Timestamp, wallMillis: number): void {
    // advance ticks the logical counter as for a local event; an observation
    // is not one, but ordering strictly after t is all that matters.
    this.advance(wallMillis, t.wall, t.logical);
  }

  private advance(wall: number, seenWall: number, seenLogical: number): void {
    // Go's wall time is an int64: a fractional or unsafe reading (say
    // performance.now()) would make timestamps that no encoding can carry.
    if (!Number.isSafeInteger(wall) || !Number.isSafeInteger(seenWall)) {
      throw new RangeError(`crdt: wall time ${Number.isSafeInteger(wall) ? seenWall : wall} is not a safe integer of milliseconds`);
    }
    let next = this.wallMs;
    let logical = this.logicalCount;
    if (wall > next && wall > seenWall) {
      next = wall;
      logical = 0;
    } else if (seenWall > next) {
      next = seenWall;
      logical = seenLogical;
      [next, logical] = tick(next, logical);
    } else if (seenWall === next && seenLogical > logical) {
      logical = seenLogical;
      [next, logical] = tick(next, logical);
    } else {
      [next, logical] = tick(next, logical);
    }
    this.wallMs = next;
    this.logicalCount = logical;
  }
}

/**
 * Increments the logical counter; on overflow it borrows a millisecond, which
 * keeps readings monotonic at the price of a 1 ms lead. At the top of the
 * domain it stays put (see Clock).
 */
function tick(wall: number, logical: number): [number, number] {
  if (logical >= MaxLogical) return wall >= MaxWall ? [wall, MaxLogical] : [wall + 1, 0];
  return [wall, logical + 1];
}
