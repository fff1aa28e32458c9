// Port of crdt/workflow/builder.go: how an operation turns into a delta.
//
// Go defines the builder's helpers as methods spread over the ops_*.go files
// (b.writeBlock, b.removeBlocks, ...). Here those are functions of their
// ops_*.ts module taking the Builder first, so that no module has to patch
// another's class; the Builder keeps the core write and read primitives.

import { Doc, KindVariable, type Cell, type Key, type Value } from './doc';
import { MaxWall, type Timestamp } from '../crdt/hlc';
import { checkCanonical, checkCanonicalNodes } from '../msgpackx/canonical';
import { DeltaCaps } from './codec';
import { WorkflowError } from './errors';
import { MaxCounter, type Dot } from '../crdt/dot';
import type { Dotted } from '../crdt/dotmap';
import { stamp, winner } from '../crdt/register';
import { current, ownerKey, predates } from './incarnation';
import { compareStrings, errorf } from './util';
import type { Text } from '../crdt/text/text';

/**
 * One operation of the editor vocabulary. Implementations live in the
 * ops_*.ts files; parseOp builds them from the reference wire form.
 */
export interface Op {
  /** The reference operation name, e.g. "batch-add-blocks". */
  name(): string;
  /** Writes the operation's delta through b; throws a WorkflowError to refuse. */
  prepare(b: Builder): void;
}

/**
 * Counters a replica may not pass: past this it must switch to a new replica
 * id, so that no delta can ever mint a dot above MaxCounter (Go:
 * crdt.MaxCounter-1<<20, where << binds tighter than -).
 */
const counterGuard = MaxCounter - 2 ** 20;

/**
 * Computes the delta of op, authored at ts by ts.replica, without changing
 * doc. It throws a typed WorkflowError and returns no delta when op is
 * refused: Invalid among others when ts is older than the add of a block or
 * variable op writes to (see checkStamps). The delta's dots continue ts.replica's counter in doc, so merge it
 * (or drop it) before preparing the next operation for the same replica.
 */
export function prepare(doc: Doc, ts: Timestamp, op: Op): Doc {
  if (ts.replica === '') {
    throw errorf('Invalid', 'timestamp has no replica');
  }
  if (!Number.isSafeInteger(ts.wall)) {
    throw errorf('Invalid', `wall time ${ts.wall} beyond ±${MaxWall}`);
  }
  const max = doc.context().max(ts.replica);
  if (max >= counterGuard) {
    throw errorf('Invalid', `replica ${JSON.stringify(ts.replica)} has spent its counters; use a new replica id`);
  }
  const b = new Builder(doc, ts, max + 1);
  op.prepare(b);
  checkStamps(b);
  if (b.delta.context().isEmpty() && b.delta.texts().size === 0) {
    throw errorf('NoEffect', `${op.name()} changes nothing`);
  }
  checkValues(b.delta, op);
  return b.delta;
}

/**
 * Holds every value of a delta to what decode accepts, so that no replica
 * stores or sends a value another refuses: a NaN or infinity that reached a
 * field (a position, a height, a payload number) is refused here rather than
 * in every peer's decoder. A value with more msgpack nodes than
 * DeltaCaps.maxValueNodes is refused too: no cut into several deltas can
 * carry it, so no client could send it. (Go: Doc.checkValues.)
 */
export function checkValues(delta: Doc, op: Op): void {
  delta.store().range((k, es) => {
    for (const e of es) {
      const v = e.value.value;
      if (v === null || v.length === 0 || (v.length === 1 && v[0] === 0xc0)) continue;
      try {
        checkCanonical(v, { maxBytes: v.length, maxDepth: 64 });
        checkCanonicalNodes(v, DeltaCaps.maxValueNodes);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new WorkflowError('Invalid', `${op.name()}: ${k.sub} of ${JSON.stringify(k.id)}: ${detail}`, { cause: err });
      }
    }
    return true;
  });
}

/**
 * Refuses (Invalid) an operation that writes a value stamped before the
 * incarnation it belongs to: the value would be hidden the moment it is
 * merged. An honest replica never does this, since its clock moved past the
 * add when it merged it. The offending key named is the smallest, so the
 * message does not depend on the store's order. (Go: builder.checkStamps.)
 */
export function checkStamps(b: Builder): void {
  let worst: Key | undefined;
  let owner: Key | undefined;
  let inc: Timestamp | undefined;
  b.delta.store().range((k, es) => {
    const o = ownerKey(k);
    if (o === undefined || (worst !== undefined && compareKeyOrder(k, worst) >= 0)) return true;
    const w = b.rawWinner(o);
    if (w !== undefined && predates(es[0], stamp(w.value, w.dot))) {
      worst = k;
      owner = o;
      inc = stamp(w.value, w.dot);
    }
    return true;
  });
  if (worst === undefined || owner === undefined || inc === undefined) return;
  const what = owner.kind === KindVariable ? 'variable' : 'block';
  throw errorf(
    'Invalid',
    `${what} ${JSON.stringify(owner.id)}: written at ${b.ts.wall}.${b.ts.logical}, before its add at ${inc.wall}.${inc.logical} by ${JSON.stringify(inc.replica)}: the replica's clock must move past every timestamp it merges`,
  );
}

/** Orders keys as Go's compareKeys: kind, then id, then sub, strings by bytes. */
function compareKeyOrder(a: Key, c: Key): number {
  return a.kind - c.kind || compareStrings(a.id, c.id) || compareStrings(a.sub, c.sub);
}

/**
 * Prepares op and merges its delta into doc, returning the delta to send to
 * other replicas. A refused op throws and leaves doc unchanged.
 */
export function apply(doc: Doc, ts: Timestamp, op: Op): Doc {
  const delta = prepare(doc, ts, op);
  doc.merge(delta);
  return delta;
}

declare module './doc' {
  interface Doc {
    /** See prepare in builder.ts. */
    prepare(ts: Timestamp, op: Op): Doc;
    /** See apply in builder.ts. */
    apply(ts: Timestamp, op: Op): Doc;
  }
}

// Doc's methods in Go (builder.go); attached here so that doc.ts need not
// import the operations.
if (!Object.prototype.hasOwnProperty.call(Doc.prototype, 'prepare')) {
  Doc.prototype.prepare = function (this: Doc, ts: Timestamp, op: Op): Doc {
    return prepare(this, ts, op);
  };
}
if (!Object.prototype.hasOwnProperty.call(Doc.prototype, 'apply')) {
  Doc.prototype.apply = function (this: Doc, ts: Timestamp, op: Op): Doc {
    return apply(this, ts, op);
  };
}

/**
 * Accumulates one operation's delta. Reads go to doc merged with what the
 * operation already wrote (so a batch sees its own earlier items); writes
 * mint consecutive dots for the author.
 */
export class Builder {
  readonly delta: Doc = new Doc();
  /** Whether a dot was minted: a removal must spend one of its own otherwise. */
  spent = false;
  /** The texts this operation edited more than once, with its edits, by record id (text_write.ts). */
  readonly work = new Map<string, Text>();

  constructor(
    readonly doc: Doc,
    readonly ts: Timestamp,
    /** The next counter to mint for ts.replica. */
    public next: number,
  ) {}

  mint(): Dot {
    const d: Dot = { replica: this.ts.replica, counter: this.next };
    this.next++;
    this.spent = true;
    return d;
  }

  /** Writes v under k, covering every value k held before. */
  put(k: Key, v: Value): void {
    this.cover(k);
    const d = this.mint();
    this.delta.context().add(d);
    this.delta.store().put(k, d, { wall: this.ts.wall, logical: this.ts.logical, value: v });
  }

  /**
   * Writes v under k unless v is the field's default and k holds nothing the
   * write would have to override. The view reads an absent field as its
   * default, so a new block costs only the fields that say something.
   */
  putUnlessDefault(k: Key, v: Value, isDefault: boolean): void {
    if (isDefault && !this.has(k)) return;
    this.put(k, v);
  }

  /** Deletes every value under k that this replica has seen. */
  remove(k: Key): void {
    if (!this.spent) {
      // A removal must spend a dot of its own, or a replica that missed it
      // could not tell from its causal context that it is behind.
      this.delta.context().add(this.mint());
    }
    this.cover(k);
  }

  /**
   * Adds the dots under k (in the document and in this delta) to the delta's
   * context and drops the delta's own values under k.
   */
  cover(k: Key): void {
    for (const e of this.doc.store().get(k)) {
      this.delta.context().add(e.dot);
    }
    for (const e of [...this.delta.store().get(k)]) {
      const removal = new Doc();
      removal.context().add(e.dot);
      this.delta.merge(removal); // removes the superseded value
    }
  }

  /** Reads the winning value under k as the operation sees it. */
  get(k: Key): Value {
    const w = current(this, k);
    return w !== undefined ? w.value.value : null;
  }

  /**
   * The winning entry under k as the operation sees it, if it belongs to the
   * current incarnation of its element (incarnation.ts).
   */
  winner(k: Key): Dotted<Cell> | undefined {
    return current(this, k);
  }

  /** Reports whether k holds a current value as the operation sees it. */
  has(k: Key): boolean {
    return current(this, k) !== undefined;
  }

  /**
   * The winner under k as the operation sees it, whatever its incarnation:
   * the operation's own writes cover every value of k in doc, so they alone
   * count once there are any.
   */
  rawWinner(k: Key): Dotted<Cell> | undefined {
    const es = this.delta.store().get(k);
    if (es.length > 0) return es[winner(es)];
    if (this.covered(k)) return undefined;
    return this.doc.rawWinner(k);
  }

  /** Reports whether this operation removed every value k held in doc. */
  covered(k: Key): boolean {
    const es = this.doc.store().get(k);
    if (es.length === 0) return false;
    for (const e of es) {
      if (!this.delta.context().contains(e.dot)) return false;
    }
    return true;
  }
}
