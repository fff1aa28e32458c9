// The undo and redo shortcuts both demo editors bind: Ctrl+Z (Cmd+Z on a
// Mac) undoes, Shift+Ctrl+Z and Ctrl+Y (Shift+Cmd+Z) redo. Inside a text
// field the browser's own undo of the typing applies instead.

/** historyKey says which history command a keydown asks for, if any. */
export function historyKey(e: KeyboardEvent): 'undo' | 'redo' | null {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  const el = e.target as HTMLElement | null;
  if (el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT' || el.isContentEditable)) return null;
  const key = e.key.toLowerCase();
  if (key === 'z') return e.shiftKey ? 'redo' : 'undo';
  if (key === 'y' && e.ctrlKey && !e.shiftKey) return 'redo';
  return null;
}
