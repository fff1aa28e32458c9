// Port of crdt/workflow/ops_subblock.go: sub-block values.

import type { Builder, Op } from './builder';
import { sameCellValue } from './doc';
import { anyValue, stringValue } from './fields';
import { editable } from './ops_block';
import { putAny } from './ops_common';
import { readValue, spliceText, textMarker, textOf } from './text_write';
import { codePoints } from '../crdt/text/delta';
import { diffText } from '../crdt/text/utf16';
import type { Key } from './doc';
import { subBlockKey, subBlockTypeKey } from './state';
import { errorf, q } from './util';

/** The type a sub-block created by a value update gets, as in the reference. */
export const subBlockTypeUnknown = 'unknown';

/**
 * "subblock-update" (its own event in the reference): sets one sub-block
 * value, last writer wins. It fails with UnknownBlock, Locked, or Invalid
 * (empty ids, a value that does not encode). null or undefined clears it.
 */
export class UpdateSubBlock implements Op {
  readonly blockId: string;
  readonly subBlockId: string;
  readonly value: unknown;
  constructor(init: { blockId?: string; subBlockId?: string; value?: unknown } = {}) {
    this.blockId = init.blockId ?? '';
    this.subBlockId = init.subBlockId ?? '';
    this.value = init.value ?? null;
  }
  name(): string {
    return 'subblock-update';
  }
  prepare(b: Builder): void {
    writeSubBlock(b, { blockId: this.blockId, subBlockId: this.subBlockId, value: this.value });
  }
}

/**
 * One entry of SubBlockBatchUpdate. When hasExpected is set, the update
 * applies only if the stored value equals expectedValue (null matches an
 * absent value).
 */
export interface SubBlockUpdate {
  blockId: string;
  subBlockId: string;
  value?: unknown;
  expectedValue?: unknown;
  hasExpected?: boolean;
}

/**
 * "subblock-batch-update": sets sub-block values, all or nothing. It fails
 * with UnknownBlock, Locked, Invalid, or Precondition when an expected value
 * differs from the stored one. This is an admission check, evaluated against
 * the state it is prepared on: a concurrent write elsewhere still merges by
 * last-writer-wins.
 */
export class SubBlockBatchUpdate implements Op {
  readonly updates: SubBlockUpdate[];
  constructor(init: { updates?: SubBlockUpdate[] } = {}) {
    this.updates = init.updates ?? [];
  }
  name(): string {
    return 'subblock-batch-update';
  }
  prepare(b: Builder): void {
    for (const u of this.updates) writeSubBlock(b, u);
  }
}

/** Checks and writes one sub-block update. A sub-block that never had a type gets "unknown". */
export function writeSubBlock(b: Builder, u: SubBlockUpdate): void {
  editable(b, u.blockId);
  if (!u.subBlockId) {
    throw errorf('Invalid', `block ${q(u.blockId)}: empty sub-block id`);
  }
  const k = subBlockKey(u.blockId, u.subBlockId);
  if (rebaseText(b, k, u)) return;
  if (u.hasExpected) {
    let want;
    try {
      want = anyValue(u.expectedValue);
    } catch (err) {
      throw errorf('Invalid', `expected value of ${u.blockId}.${u.subBlockId}: ${(err as Error).message}`);
    }
    if (!sameCellValue(readValue(b, k), want)) {
      throw errorf('Precondition', `sub-block ${u.blockId}.${u.subBlockId} changed`);
    }
  }
  const tk = subBlockTypeKey(u.blockId, u.subBlockId);
  if (!b.has(tk)) {
    b.put(tk, stringValue(subBlockTypeUnknown));
  }
  putAny(b, k, u.value);
}

/**
 * rebaseText writes a whole-string update of a text whose expected value is
 * the string the writer edited (a thin client's last view of it) as the
 * writer's own change: the splice from the expected string to the new one,
 * moved past what others changed since (the splice from the expected
 * string to the current one) when the two do not overlap, so that others'
 * typing elsewhere in the text survives. Overlapping changes fail the
 * precondition, as for any value. It reports false when u is not such an
 * update. (Go: builder.rebaseText.)
 */
function rebaseText(b: Builder, k: Key, u: SubBlockUpdate): boolean {
  const want = u.expectedValue;
  const s = u.value;
  const m = textMarker(b, k);
  if (!u.hasExpected || typeof want !== 'string' || typeof s !== 'string' || m === undefined || codePoints(want) < 0 || codePoints(s) < 0) return false;
  const t = textOf(b, m);
  const cur = t.toString();
  let { pos, del, ins } = diffText(want, s);
  if (cur !== want) {
    const o = diffText(want, cur);
    if (del === 0 && ins === '') return true;
    if (pos + del <= o.pos) {
      // Wholly before the others' change: the same place.
    } else if (pos >= o.pos + o.del) {
      pos += codePoints(o.ins) - o.del;
    } else {
      throw errorf('Precondition', `sub-block ${u.blockId}.${u.subBlockId} changed where it is written`);
    }
  }
  if (del === 0 && ins === '') return true;
  spliceText(b, k, m, t, pos, del, ins);
  return true;
}
