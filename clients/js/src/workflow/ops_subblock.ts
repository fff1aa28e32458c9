// Port of crdt/workflow/ops_subblock.go: sub-block values.

import type { Builder, Op } from './builder';
import { sameCellValue } from './doc';
import { anyValue, stringValue } from './fields';
import { editable } from './ops_block';
import { putAny } from './ops_common';
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
  if (u.hasExpected) {
    let want;
    try {
      want = anyValue(u.expectedValue);
    } catch (err) {
      throw errorf('Invalid', `expected value of ${u.blockId}.${u.subBlockId}: ${(err as Error).message}`);
    }
    if (!sameCellValue(b.get(k), want)) {
      throw errorf('Precondition', `sub-block ${u.blockId}.${u.subBlockId} changed`);
    }
  }
  const tk = subBlockTypeKey(u.blockId, u.subBlockId);
  if (!b.has(tk)) {
    b.put(tk, stringValue(subBlockTypeUnknown));
  }
  putAny(b, k, u.value);
}
