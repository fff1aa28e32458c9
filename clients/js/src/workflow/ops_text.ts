// Port of the operations of crdt/workflow/ops_text.go: "text-insert" and
// "text-delete" (target text), positions in Unicode code points.

import type { Builder, Op } from './builder';
import type { Key } from './doc';
import { VarFieldValue } from './fields';
import { editable } from './ops_block';
import { knownVariable } from './ops_variable';
import { subBlockKey, variableFieldKey } from './state';
import { liveText, spliceText } from './text_write';
import { codePoints } from '../crdt/text/delta';
import { errorf, q } from './util';

/** A text field: a sub-block value (blockId, subBlockId) or, with variableId instead, a variable's value. */
export interface TextTarget {
  blockId?: string;
  subBlockId?: string;
  variableId?: string;
}

/** The key of the field t names, checking that it exists and may be edited. */
function targetKey(b: Builder, t: TextTarget): Key {
  if (t.variableId) {
    if (t.blockId || t.subBlockId) throw errorf('Invalid', 'a text target names a variable or a sub-block, not both');
    knownVariable(b, t.variableId);
    return variableFieldKey(t.variableId, VarFieldValue);
  }
  editable(b, t.blockId ?? '');
  if (!t.subBlockId) throw errorf('Invalid', `block ${q(t.blockId ?? '')}: empty sub-block id`);
  return subBlockKey(t.blockId!, t.subBlockId);
}

/**
 * "text-insert": inserts text at code point index of a text field. A field
 * of a text kind that is not a text yet (a document written before texts)
 * becomes one, holding its string. It fails with UnknownBlock,
 * UnknownVariable, Locked, or Invalid (not a text field, an index past the
 * end, empty or invalid text).
 */
export class InsertText implements Op {
  readonly target: TextTarget;
  readonly index: number;
  readonly text: string;
  constructor(init: TextTarget & { index?: number; text?: string } = {}) {
    this.target = { blockId: init.blockId, subBlockId: init.subBlockId, variableId: init.variableId };
    this.index = init.index ?? 0;
    this.text = init.text ?? '';
  }
  name(): string {
    return 'text-insert';
  }
  prepare(b: Builder): void {
    if (this.text === '' || codePoints(this.text) < 0) throw errorf('Invalid', 'text-insert: empty or invalid UTF-8 text');
    const k = targetKey(b, this.target);
    const { m, t } = liveText(b, k);
    if (!Number.isSafeInteger(this.index) || this.index < 0 || this.index > t.length) {
      throw errorf('Invalid', `text-insert at ${this.index} in a text of ${t.length}`);
    }
    spliceText(b, k, m, t, this.index, 0, this.text);
  }
}

/** "text-delete": deletes length code points from index of a text field. It fails as InsertText does, and with Invalid for a range past the end or an empty one. */
export class DeleteText implements Op {
  readonly target: TextTarget;
  readonly index: number;
  readonly length: number;
  constructor(init: TextTarget & { index?: number; length?: number } = {}) {
    this.target = { blockId: init.blockId, subBlockId: init.subBlockId, variableId: init.variableId };
    this.index = init.index ?? 0;
    this.length = init.length ?? 0;
  }
  name(): string {
    return 'text-delete';
  }
  prepare(b: Builder): void {
    const k = targetKey(b, this.target);
    const { m, t } = liveText(b, k);
    if (!Number.isSafeInteger(this.index) || !Number.isSafeInteger(this.length) || this.length <= 0 || this.index < 0 || this.index > t.length - this.length) {
      throw errorf('Invalid', `text-delete of ${this.length} at ${this.index} in a text of ${t.length}`);
    }
    spliceText(b, k, m, t, this.index, this.length, '');
  }
}
