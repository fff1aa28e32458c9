// The glue between a text replica and a plain-text editor that speaks
// UTF-16 (a <textarea>, an input, most code editors): local input becomes
// the minimal edit, remote deltas come back as a new value with the
// selection carried on its characters.

import type { ReplicaID } from '../dot';
import type { Delta } from './delta';
import { type TextChange, type Text } from './text';
import { codePointToUtf16, diffText, utf16ToCodePoint } from './utf16';

/** A selection in UTF-16 offsets, as a <textarea>'s selectionStart and selectionEnd. */
export interface Selection {
  start: number;
  end: number;
}

/** What a remote delta did to the editor's content. */
export interface RemoteUpdate {
  /** The new value to show. */
  value: string;
  /** The selection carried through the change: each end stays on its character. */
  selection: Selection;
  /** The visible changes, in order, in code points (Text.mergeChanges). */
  changes: TextChange[];
}

/**
 * Binds a Text to an editor that reports its whole value (an input event)
 * and a UTF-16 selection. The editor's value must be the text's value
 * between calls: input applies the editor's change to the text, remote
 * applies another replica's delta and says what the editor must show.
 */
export class TextBinding {
  constructor(
    readonly text: Text,
    readonly replica: ReplicaID,
  ) {}

  /** The text's current value, what the editor shows. */
  get value(): string {
    return this.text.toString();
  }

  /**
   * The editor's value changed to value: applies the minimal edit (common
   * prefix and suffix kept) to the text and returns the deltas to send,
   * the delete first (none when nothing changed).
   */
  input(value: string): Delta[] {
    const { pos, del, ins } = diffText(this.text.toString(), value);
    const out: Delta[] = [];
    if (del > 0) out.push(this.text.delete(pos, del));
    if (ins !== '') out.push(this.text.insert(this.replica, pos, ins));
    return out;
  }

  /**
   * Merges a delta from another replica and returns the new value with
   * sel (in the value before the merge) carried onto the same characters:
   * text typed elsewhere, or at the caret by someone else, does not move
   * the caret off the character it follows.
   */
  remote(d: Delta, sel: Selection): RemoteUpdate {
    const before = this.text.toString();
    // An editor may report a selection past the end (a stale one): clamp it.
    const clamp = (x: number) => Math.max(0, Math.min(before.length, x));
    const a = this.text.anchor(utf16ToCodePoint(before, clamp(sel.start)));
    const b = this.text.anchor(utf16ToCodePoint(before, clamp(sel.end)));
    const changes = this.text.mergeChanges(d);
    const value = this.text.toString();
    return {
      value,
      selection: { start: codePointToUtf16(value, this.text.resolve(a)), end: codePointToUtf16(value, this.text.resolve(b)) },
      changes,
    };
  }
}
