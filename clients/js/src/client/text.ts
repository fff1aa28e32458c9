// A handle on one text field of the workflow (a text sub-block or a text
// variable's value) for an editor: UTF-16 offsets in and out (code points
// underneath, as the document counts them), change events with index
// deltas, stable positions, and carets — the local one sent as presence,
// the remote ones resolved to offsets in this replica's copy of the text.

import type { Dot } from '../crdt/dot';
import { noDot, type Anchor } from '../crdt/text';
import { codePointToUtf16, diffText, utf16ToCodePoint } from '../crdt/text/utf16';
import type { Op } from '../workflow/builder';
import type { Doc } from '../workflow/doc';
import { VarFieldValue, asString } from '../workflow/fields';
import { DeleteText, InsertText } from '../workflow/ops_text';
import { subBlockKey, variableFieldKey } from '../workflow/state';
import { isTextMarker } from '../workflow/texts';
import { checkField, sameField } from './caret';
import { FlowsyncError } from './errors';
import type { ClientEvents, PresenceCaret, RosterEntry, TextField } from './events';

/** One change to a text's value, in UTF-16 offsets: at index, delete code units, then insert. */
export interface TextDelta {
  index: number;
  delete: number;
  insert: string;
}

/**
 * What a TextHandle reports after the document changed its text: the new
 * value and the change as index deltas (applied in order to the previous
 * value they give value), and whether another replica made it.
 */
export interface TextChangeEvent {
  value: string;
  deltas: TextDelta[];
  remote: boolean;
}

/** Another session's caret in this text, resolved to UTF-16 offsets of the current value. */
export interface RemoteCaret {
  sid: string;
  uid: string;
  name?: string;
  /** Where the selection started. */
  anchor: number;
  /** Where the caret is (equal to anchor for a bare caret). */
  head: number;
}

/** What a TextHandle needs of the client: FlowsyncClient has it all. */
export interface TextHost {
  readonly doc: Doc;
  readonly sessionId: string;
  apply(op: Op): Doc;
  roster(): RosterEntry[];
  setPresence(p: { caret?: PresenceCaret | null }): void;
  on<K extends 'change' | 'roster' | 'presence'>(event: K, fn: ClientEvents[K]): () => void;
}

type Listener<T> = (e: T) => void;

/**
 * A text field of the workflow as an editor sees it. Offsets and lengths
 * are UTF-16 code units (a <textarea>'s selectionStart, a string's
 * length); a surrogate pair is never cut. Edits go through the client
 * (stored, sent, merged character by character with everyone's typing).
 * Call close() when done: it drops the handle's listeners.
 */
export class TextHandle {
  readonly field: TextField;
  private last: string;
  private readonly changeFns = new Set<Listener<TextChangeEvent>>();
  private readonly caretFns = new Set<Listener<RemoteCaret[]>>();
  private readonly off: (() => void)[] = [];
  /** The last offsets each remote caret resolved to, for a caret whose character has not arrived yet. */
  private readonly shown = new Map<string, RemoteCaret>();

  constructor(
    private readonly host: TextHost,
    field: TextField,
  ) {
    this.field = checkField(field);
    this.last = this.toString();
    this.off.push(
      host.on('change', (_d, remote) => this.changed(remote)),
      host.on('roster', () => this.caretsChanged()),
      host.on('presence', (u) => {
        if (u.caret !== undefined ? sameField(u.caret.field, this.field) : this.shown.has(u.sid)) this.caretsChanged();
      }),
    );
  }

  private key() {
    return 'variableId' in this.field ? variableFieldKey(this.field.variableId, VarFieldValue) : subBlockKey(this.field.blockId, this.field.subBlockId);
  }

  /** The marker's dot when the field is a text, undefined when it holds a plain value (or nothing). */
  private marker(): Dot | undefined {
    const w = this.host.doc.winner(this.key());
    return w !== undefined && isTextMarker(w.value.value) ? w.dot : undefined;
  }

  /** The field's current value ('' when it holds nothing or a value that is not a string). */
  toString(): string {
    return asString(this.host.doc.get(this.key()));
  }

  /** The value's length in UTF-16 code units. */
  get length(): number {
    return this.toString().length;
  }

  private target() {
    return 'variableId' in this.field ? { variableId: this.field.variableId } : { blockId: this.field.blockId, subBlockId: this.field.subBlockId };
  }

  private checkOffset(what: string, v: number, max: number): void {
    if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new FlowsyncError('invalid-argument', `flowsync: ${what} ${v} is outside 0..${max}`);
  }

  /** Inserts text at UTF-16 offset index. It throws the operation's WorkflowError (a locked block, a field that is not a text) or a FlowsyncError. */
  insert(index: number, text: string): void {
    const s = this.toString();
    this.checkOffset('index', index, s.length);
    if (text === '') return;
    this.host.apply(new InsertText({ ...this.target(), index: utf16ToCodePoint(s, index), text }));
  }

  /** Deletes length UTF-16 code units from index (widened to whole code points). */
  delete(index: number, length: number): void {
    const s = this.toString();
    this.checkOffset('index', index, s.length);
    this.checkOffset('length', length, s.length - index);
    if (length === 0) return;
    const from = utf16ToCodePoint(s, index);
    const to = utf16ToCodePoint(s, index + length);
    const n = to - from + (codePointToUtf16(s, to) < index + length ? 1 : 0);
    this.host.apply(new DeleteText({ ...this.target(), index: from, length: n }));
  }

  /**
   * Makes the value equal to value with the smallest edit (common prefix
   * and suffix kept): what an editor that reports its whole value after
   * each input calls. Concurrent typing elsewhere in the text survives.
   * caret, the UTF-16 offset of the caret in value after the input, places
   * an ambiguous edit: typing a space next to a space inserts where the
   * user typed it, not at the first place the strings differ.
   */
  setValue(value: string, caret?: number): void {
    const s = this.toString();
    const { start, del, ins } = spliceAt(s, value, caret);
    if (del > 0) this.delete(start, del);
    if (ins !== '') this.insert(start, ins);
  }

  /** The stable position of UTF-16 offset index: it stays on its character while others type. */
  anchor(index: number): Anchor {
    const s = this.toString();
    this.checkOffset('index', Math.min(index, s.length), s.length);
    const m = this.marker();
    const rec = m !== undefined ? this.host.doc.textRecord(m) : undefined;
    if (rec === undefined || index <= 0) return { after: noDot };
    return rec.t.anchor(utf16ToCodePoint(s, Math.min(index, s.length)));
  }

  /** The UTF-16 offset of anchor a, undefined while this replica lacks its character. */
  resolve(a: Anchor): number | undefined {
    const m = this.marker();
    const rec = m !== undefined ? this.host.doc.textRecord(m) : undefined;
    if (a.after.counter === 0) return 0;
    if (rec === undefined) return undefined;
    try {
      return codePointToUtf16(rec.t.toString(), rec.t.resolve(a));
    } catch {
      return undefined;
    }
  }

  /** Sends this session's caret (anchor = where the selection started, head = the caret, UTF-16 offsets) as presence. */
  setCaret(anchor: number, head: number = anchor): void {
    this.host.setPresence({ caret: { field: this.field, anchor: this.anchor(anchor), head: this.anchor(head) } });
  }

  /** Says this session has no caret in a text. */
  clearCaret(): void {
    this.host.setPresence({ caret: null });
  }

  /**
   * The carets of the other sessions in this text, at offsets of the
   * current value. A caret whose character this replica has not merged yet
   * stays where it was last shown (or is left out, never shown yet).
   */
  remoteCarets(): RemoteCaret[] {
    const out: RemoteCaret[] = [];
    const seen = new Set<string>();
    for (const e of this.host.roster()) {
      if (e.sid === this.host.sessionId || e.caret === undefined || !sameField(e.caret.field, this.field)) continue;
      seen.add(e.sid);
      const a = this.resolve(e.caret.anchor);
      const h = this.resolve(e.caret.head);
      let c: RemoteCaret | undefined;
      if (a !== undefined && h !== undefined) {
        c = { sid: e.sid, uid: e.uid, anchor: a, head: h };
        if (e.name) c.name = e.name;
        this.shown.set(e.sid, c);
      } else c = this.shown.get(e.sid);
      if (c !== undefined) out.push({ ...c });
    }
    for (const sid of [...this.shown.keys()]) if (!seen.has(sid)) this.shown.delete(sid);
    return out;
  }

  /** Calls fn after every change of the value, with index deltas. Returns the unsubscribe function. */
  onChange(fn: Listener<TextChangeEvent>): () => void {
    this.changeFns.add(fn);
    return () => this.changeFns.delete(fn);
  }

  /** Calls fn with remoteCarets() whenever they may have moved (presence, roster or text changes). */
  onCarets(fn: Listener<RemoteCaret[]>): () => void {
    this.caretFns.add(fn);
    return () => this.caretFns.delete(fn);
  }

  /** Drops the handle's listeners on the client. */
  close(): void {
    for (const f of this.off.splice(0)) f();
    this.changeFns.clear();
    this.caretFns.clear();
  }

  private changed(remote: boolean): void {
    const value = this.toString();
    if (value === this.last) return;
    const before = this.last;
    this.last = value;
    // One splice: the merge may have changed several places, and a
    // splice from the first to the last of them is still exact.
    const { pos, del, ins } = diffText(before, value);
    const index = codePointToUtf16(before, pos);
    const ev: TextChangeEvent = { value, remote, deltas: [{ index, delete: codePointToUtf16(before, pos + del) - index, insert: ins }] };
    for (const fn of [...this.changeFns]) fn(ev);
    this.caretsChanged();
  }

  private caretsChanged(): void {
    if (this.caretFns.size === 0) return;
    const cs = this.remoteCarets();
    for (const fn of [...this.caretFns]) fn(cs);
  }
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * The single splice (UTF-16: at start delete del units, insert ins) that
 * turns before into after, ending at caret in after when given: the common
 * suffix is cut so that the edit reaches the caret, then the common prefix
 * is taken (without a caret, the prefix first). No surrogate pair is cut.
 */
export function spliceAt(before: string, after: string, caret?: number): { start: number; del: number; ins: string } {
  const max = Math.min(before.length, after.length);
  let suffix = 0;
  let prefix = 0;
  const same = (i: number, j: number) => before.charCodeAt(i) === after.charCodeAt(j);
  if (caret === undefined) {
    // Prefix first, as the document's whole-value writes do.
    while (prefix < max && same(prefix, prefix)) prefix++;
    while (suffix < max - prefix && same(before.length - 1 - suffix, after.length - 1 - suffix)) suffix++;
  } else {
    const cap = Math.max(0, Math.min(max, after.length - caret));
    while (suffix < cap && same(before.length - 1 - suffix, after.length - 1 - suffix)) suffix++;
    while (prefix < max - suffix && same(prefix, prefix)) prefix++;
  }
  if (prefix > 0 && isLow(before.charCodeAt(prefix)) && prefix < before.length) prefix--;
  if (prefix > 0 && prefix < after.length && isLow(after.charCodeAt(prefix))) prefix--;
  if (suffix > 0 && isLow(before.charCodeAt(before.length - suffix))) suffix--;
  if (suffix > 0 && isLow(after.charCodeAt(after.length - suffix))) suffix--;
  return { start: prefix, del: before.length - suffix - prefix, ins: after.slice(prefix, after.length - suffix) };
}
