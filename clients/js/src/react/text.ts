// useText: a text field of the workflow (a prompt, code, a text variable)
// for React, with the other sessions' carets, and a ref that binds a
// <textarea> to it (the textarea is then uncontrolled: the binding keeps it
// equal to the text and keeps its selection through remote edits).

import { useCallback, useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import { bindTextarea, type RemoteCaret, type TextField, type TextHandle } from '../index';
import { useFlowsyncClient } from './hooks';

/** What useText returns. */
export interface FlowsyncText {
  /** The field's value. */
  value: string;
  /** The other sessions' carets in it, at offsets of value. */
  carets: RemoteCaret[];
  /** The handle: insert, delete, anchors, setCaret (see TextHandle). */
  handle: TextHandle;
  /** A ref for a <textarea> (or <input>): binds it to the text while mounted. Do not pass it a value prop. */
  bind: (el: HTMLTextAreaElement | HTMLInputElement | null) => void;
}

/**
 * useText returns a text field, {blockId, subBlockId} or {variableId}, and
 * re-renders when its value or the carets in it change. onError receives an
 * input the document refused (the bound element shows the text again).
 */
export function useText(field: TextField, onError?: (err: unknown) => void): FlowsyncText {
  const client = useFlowsyncClient();
  const key = 'variableId' in field ? `v\u0000${field.variableId}` : `b\u0000${field.blockId}\u0000${field.subBlockId}`;
  // The handle lives as long as the component shows this field.
  const handle = useMemo(() => ('variableId' in field ? client.variableText(field.variableId) : client.text(field.blockId, field.subBlockId)), [client, key]);
  useEffect(() => () => handle.close(), [handle]);

  const value = useSyncExternalStore(
    useCallback((fn: () => void) => handle.onChange(fn), [handle]),
    () => handle.toString(),
  );
  const carets = useSyncExternalStore(
    useCallback(
      (fn: () => void) =>
        handle.onCarets((cs) => {
          shownCarets.set(handle, cs);
          fn();
        }),
      [handle],
    ),
    () => caretsOf(handle),
  );

  const errorRef = useRef(onError);
  errorRef.current = onError;
  const unbind = useRef<(() => void) | null>(null);
  const bind = useCallback(
    (el: HTMLTextAreaElement | HTMLInputElement | null) => {
      unbind.current?.();
      unbind.current = el ? bindTextarea(handle, el, (err) => (errorRef.current ? errorRef.current(err) : console.error(err))) : null;
    },
    [handle],
  );
  useEffect(() => () => unbind.current?.(), [handle]);
  return { value, carets, handle, bind };
}

/** The carets last reported for each handle: a snapshot keeps its identity until they move. */
const shownCarets = new WeakMap<TextHandle, RemoteCaret[]>();

function caretsOf(h: TextHandle): RemoteCaret[] {
  let cs = shownCarets.get(h);
  if (cs === undefined) shownCarets.set(h, (cs = h.remoteCarets()));
  return cs;
}
