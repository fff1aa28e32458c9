// Shared fixture for the operation tests: a port of ops_test.go's otDoc and
// otFixture, so that the TS tests exercise the same document as the Go ones.

import { expect } from 'vitest';
import { Clock, type Timestamp } from '../src/crdt/hlc';
import { Doc, type Key, type Value } from '../src/workflow/doc';
import { isError, type ErrorCode } from '../src/workflow/errors';
import '../src/workflow/builder';
import { apply, type Op } from '../src/workflow/builder';
import {
  FieldDataPrefix,
  FieldPosition,
  asBool,
  asEdge,
  asPosition,
  asString,
  decodeValue,
  type Edge,
  type Position,
} from '../src/workflow/fields';
import { BatchAddBlocks, BatchToggleLocked, type BlockInput } from '../src/workflow/ops_blocks';
import {
  blockKey,
  edgeKey,
  fieldKey,
  subBlockKey,
  subBlockTypeKey,
  subflowKey,
  variableFieldKey,
  TypeLoop,
  TypeNote,
  TypeParallel,
  TypeStarter,
} from '../src/workflow/state';

/** A document driven by one replica's clock, with readers of stored fields. */
export class OtDoc {
  readonly d = new Doc();
  private readonly clock = new Clock('r1');
  private wall = 1_000;

  constructor(setup: Op[] = []) {
    for (const op of setup) this.ok(op);
  }

  now(): Timestamp {
    this.wall += 10;
    return this.clock.now(this.wall);
  }

  ok(op: Op): Doc {
    return apply(this.d, this.now(), op);
  }

  /** Applies op, expects the typed error code, and checks the document did not change. */
  fails(op: Op, code: ErrorCode): void {
    const before = this.d.encode();
    let err: unknown;
    let delta: Doc | undefined;
    try {
      delta = apply(this.d, this.now(), op);
    } catch (e) {
      err = e;
    }
    expect(delta, `${op.name()}: refused op returned a delta`).toBeUndefined();
    expect(isError(err, code), `${op.name()}: got ${String(err)}, want ${code}`).toBe(true);
    expect(Buffer.from(this.d.encode()).equals(Buffer.from(before)), `${op.name()}: refused op changed the document`).toBe(
      true,
    );
  }

  field(id: string, f: string): Value {
    return this.d.get(fieldKey(id, f));
  }
  str(id: string, f: string): string {
    return asString(this.field(id, f));
  }
  flag(id: string, f: string): boolean {
    return asBool(this.field(id, f), false);
  }
  pos(id: string): Position {
    return asPosition(this.field(id, FieldPosition));
  }
  exists(id: string): boolean {
    return this.d.has(blockKey(id));
  }
  edgeExists(id: string): boolean {
    return this.d.has(edgeKey(id));
  }
  edge(id: string): Edge {
    return asEdge(this.d.get(edgeKey(id)));
  }
  subType(id: string, sub: string): string {
    return asString(this.d.get(subBlockTypeKey(id, sub)));
  }
  decode(k: Key): unknown {
    return decodeValue(this.d.get(k));
  }
  sub(id: string, sub: string): unknown {
    return this.decode(subBlockKey(id, sub));
  }
  cfg(id: string, key: string): unknown {
    return this.decode(subflowKey(id, key));
  }
  data(id: string, key: string): unknown {
    return this.decode(fieldKey(id, FieldDataPrefix + key));
  }
  varField(id: string, f: string): unknown {
    return this.decode(variableFieldKey(id, f));
  }

  /** Counts the stored keys with the given id (any kind but edges). */
  keysOf(id: string): number {
    let n = 0;
    this.d.store().range((k) => {
      if (k.id === id && k.kind !== edgeKey('').kind) n++;
      return true;
    });
    return n;
  }
}

export function otBlock(id: string, type: string, name: string): BlockInput {
  return { id, type, name, position: { x: 1, y: 2 } };
}

export function otChild(id: string, type: string, name: string, parent: string): BlockInput {
  return { ...otBlock(id, type, name), data: { parentId: parent, extent: 'parent' } };
}

/**
 * The document most tests start from:
 *
 *   a, b, c: agents at top level     n: note     s: starter
 *   L: loop with children l1, l2     P: parallel (empty)
 *   k: locked agent                  LK: locked loop with child lk1
 *   edges: ab (a→b), l12 (l1→l2), klk (k→c)
 */
export function otFixture(): OtDoc {
  return new OtDoc([
    new BatchAddBlocks({
      blocks: [
        otBlock('a', 'agent', 'A'),
        otBlock('b', 'agent', 'B'),
        otBlock('c', 'agent', 'C'),
        otBlock('n', TypeNote, 'Note'),
        otBlock('s', TypeStarter, 'Start'),
        otBlock('L', TypeLoop, 'Loop 1'),
        otChild('l1', 'agent', 'L1', 'L'),
        otChild('l2', 'agent', 'L2', 'L'),
        otBlock('P', TypeParallel, 'Par 1'),
        otBlock('LK', TypeLoop, 'Locked Loop'),
        otChild('lk1', 'agent', 'LK1', 'LK'),
        otBlock('k', 'agent', 'K'),
      ],
      edges: [
        { id: 'ab', source: 'a', target: 'b' },
        { id: 'l12', source: 'l1', target: 'l2' },
        { id: 'klk', source: 'k', target: 'c' },
      ],
    }),
    new BatchToggleLocked({ blockIds: ['LK'] }),
    new BatchToggleLocked({ blockIds: ['k'] }),
  ]);
}

/** Reports whether a decoded value is the number want (any integer or float form). */
export function numEq(v: unknown, want: number): boolean {
  if (typeof v === 'number') return v === want;
  if (typeof v === 'bigint') return Number(v) === want;
  return false;
}
