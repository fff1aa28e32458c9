// Binds a TextHandle to a <textarea> (or an <input>, or anything with the
// same few members): the user's input becomes the smallest text edit, other
// people's edits come in with the local selection kept on its characters,
// and the local caret is sent as presence.

import type { Anchor } from '../crdt/text';
import type { TextHandle } from './text';

/** What the binding uses of a <textarea>. */
export interface TextareaLike {
  value: string;
  selectionStart: number | null;
  selectionEnd: number | null;
  selectionDirection?: string | null;
  setSelectionRange(start: number, end: number, direction?: 'forward' | 'backward' | 'none'): void;
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
  ownerDocument?: { activeElement?: unknown; addEventListener(type: string, fn: () => void): void; removeEventListener(type: string, fn: () => void): void } | null;
}

/**
 * Keeps el and the text of handle equal: el's input is applied to the
 * text, and every change of the text by others is shown in el with el's
 * selection carried on its characters (text typed before the caret moves
 * it, text typed at it by someone else goes after it). While el has the
 * focus its selection is sent as this session's caret. An input the
 * document refuses (a locked block, a read-only field) is taken back: el
 * shows the text again and onError gets the error (without onError it is
 * thrown). It returns the function that unbinds (and clears the caret).
 */
export function bindTextarea(handle: TextHandle, el: TextareaLike, onError?: (err: unknown) => void): () => void {
  // The selection as stable positions, taken at every local interaction,
  // so that it can be put back on its characters after a remote change.
  let anchors: { start: Anchor; end: Anchor; backward: boolean } | undefined;
  // The element has the caret while it is the document's active element,
  // also when its window is not focused (a window's blur blurs the element
  // but keeps it active: the caret stays, and so does its presence).
  let focused = el.ownerDocument?.activeElement === el;

  const remember = (): void => {
    const len = el.value.length;
    const start = Math.min(el.selectionStart ?? len, len);
    const end = Math.min(el.selectionEnd ?? len, len);
    const backward = el.selectionDirection === 'backward';
    anchors = { start: handle.anchor(start), end: handle.anchor(end), backward };
    if (focused) backward ? handle.setCaret(end, start) : handle.setCaret(start, end);
  };

  const onInput = (): void => {
    try {
      handle.setValue(el.value, el.selectionEnd ?? undefined);
    } catch (err) {
      const sel = anchors;
      el.value = handle.toString();
      if (sel !== undefined) {
        const at = handle.resolve(sel.end) ?? el.value.length;
        el.setSelectionRange(at, at);
      }
      if (onError === undefined) throw err;
      onError(err);
      return;
    }
    remember();
  };
  const onSelect = (): void => {
    if (el.value === handle.toString()) remember();
  };
  const onFocus = (): void => {
    focused = true;
    remember();
  };
  const onBlur = (): void => {
    if (el.ownerDocument?.activeElement === el) return; // the window lost the focus, not the element
    focused = false;
    handle.clearCaret();
  };

  el.value = handle.toString();
  if (focused) remember();
  const offChange = handle.onChange((ev) => {
    if (!ev.remote && el.value === ev.value) return; // our own input, already shown
    const sel = anchors;
    el.value = ev.value;
    if (sel !== undefined) {
      // Always, focused or not: setting value put the caret at the end.
      const start = handle.resolve(sel.start) ?? 0;
      const end = Math.max(start, handle.resolve(sel.end) ?? start);
      el.setSelectionRange(start, end, sel.backward ? 'backward' : 'forward');
    }
  });

  el.addEventListener('input', onInput);
  el.addEventListener('select', onSelect);
  el.addEventListener('keyup', onSelect);
  el.addEventListener('mouseup', onSelect);
  el.addEventListener('focus', onFocus);
  el.addEventListener('blur', onBlur);
  const doc = el.ownerDocument;
  doc?.addEventListener('selectionchange', onSelect);
  return () => {
    offChange();
    el.removeEventListener('input', onInput);
    el.removeEventListener('select', onSelect);
    el.removeEventListener('keyup', onSelect);
    el.removeEventListener('mouseup', onSelect);
    el.removeEventListener('focus', onFocus);
    el.removeEventListener('blur', onBlur);
    doc?.removeEventListener('selectionchange', onSelect);
    if (focused) handle.clearCaret();
  };
}
