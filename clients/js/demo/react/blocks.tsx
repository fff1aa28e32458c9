// The block list and the block editor. The list re-renders when the paint
// order changes (a block added or removed); each row re-renders when its
// block or who selected it changes (useBlock, usePresence with a
// selector); the editor re-renders for the selected block alone.

import { memo, useCallback, useEffect, useRef, useState } from 'react';
import type { View } from '../../src/index';
import { useBlock, usePresence, useText, useWorkflow, useFlowsyncClient } from '../../src/react';
import { randomId } from '../config';
import { BLOCK_H, BLOCK_W, PROMPT, colorOf } from '../editor';

/** edit applies a wire operation and reports whether the SDK took it (a refused one shows a banner). */
export type Edit = (what: string, name: string, target: string, payload: Record<string, unknown>) => boolean;

const promptOf = (v: unknown): string => (typeof v === 'string' ? v : '');

/** useAddBlock returns the "Add block" action: an agent block with an empty prompt at a free spot, selected. */
export function useAddBlock(edit: Edit, select: (id: string) => void): () => void {
  const client = useFlowsyncClient();
  return useCallback(() => {
    // Read when clicked, not subscribed to: the header need not re-render for every edit.
    const view = client.view();
    const id = 'b-' + randomId(6);
    const taken = new Set(Object.values(view.blocks).map((b) => b.name.trim().toLowerCase()));
    let n = 1;
    while (taken.has(`agent ${n}`)) n++;
    const ok = edit('block add', 'add', 'block', {
      id,
      type: 'agent',
      name: `Agent ${n}`,
      position: freeSlot(view),
      subBlocks: { [PROMPT]: { id: PROMPT, type: 'long-input', value: '' } },
    });
    if (ok) select(id);
  }, [client, edit, select]);
}

/** freeSlot is the first cell of the canvas demo's 4-wide grid that no block overlaps (so both demos lay blocks out alike). */
function freeSlot(view: View): { x: number; y: number } {
  const blocks = Object.values(view.blocks);
  for (let i = 0; ; i++) {
    const p = { x: 40 + (i % 4) * (BLOCK_W + 60), y: 40 + Math.floor(i / 4) * (BLOCK_H + 60) };
    if (!blocks.some((b) => Math.abs(b.position.x - p.x) < BLOCK_W && Math.abs(b.position.y - p.y) < BLOCK_H)) return p;
  }
}

export function BlockList({ selected, onSelect }: { selected: string | null; onSelect: (id: string | null) => void }) {
  const order = useWorkflow((v) => v.order);
  if (order.length === 0) {
    return (
      <p className="empty" data-testid="list-empty">
        No blocks yet: add one.
      </p>
    );
  }
  return (
    <ol className="block-list" data-testid="block-list">
      {order.map((id) => (
        <BlockRow key={id} id={id} selected={id === selected} onSelect={onSelect} />
      ))}
    </ol>
  );
}

/**
 * One row. data-renders counts its renders, so the end-to-end test can see
 * that an edit of another block did not re-render it.
 */
const BlockRow = memo(function BlockRow({ id, selected, onSelect }: { id: string; selected: boolean; onSelect: (id: string | null) => void }) {
  const b = useBlock(id);
  const editors = usePresence((p) => p.others.filter((r) => r.sel?.t === 'block' && r.sel.id === id).map((r) => ({ sid: r.sid, name: r.name || r.uid })));
  const renders = useRef(0);
  renders.current++;
  if (!b) return null;
  const prompt = promptOf(b.subBlocks[PROMPT]?.value);
  return (
    <li
      className={`block-row${selected ? ' selected' : ''}`}
      data-testid="block-row"
      data-block-id={id}
      data-renders={renders.current}
      aria-selected={selected}
      onClick={() => onSelect(selected ? null : id)}
    >
      <span className="row-name" data-testid="row-name">
        {b.name}
      </span>
      <span className="row-type">{b.type}</span>
      <span className="row-prompt" data-testid="row-prompt">
        {prompt}
      </span>
      <span className="row-editors">
        {editors.map((e) => (
          <span key={e.sid} className="editing" data-testid="row-editor" data-sid={e.sid} style={{ background: colorOf(e.sid) }}>
            {e.name}
          </span>
        ))}
      </span>
    </li>
  );
});

/**
 * PromptField is the block's prompt as a collaborative text: the textarea
 * is bound to it (uncontrolled), so concurrent typing merges character by
 * character, and the other sessions' carets are listed under it.
 */
function PromptField({ id, onError }: { id: string; onError: (err: unknown) => void }) {
  const t = useText({ blockId: id, subBlockId: PROMPT }, onError);
  return (
    <label>
      Prompt
      <textarea data-testid="editor-prompt" rows={6} ref={t.bind} />
      {t.carets.length > 0 && (
        <span className="meta" data-testid="editor-carets">
          {t.carets.map((c) => (
            <span key={c.sid} style={{ color: colorOf(c.sid) }}>
              {(c.name || c.uid) + ' at ' + c.head + ' '}
            </span>
          ))}
        </span>
      )}
    </label>
  );
}

export function BlockEditor({ id, edit, onClose, onTextError }: { id: string | null; edit: Edit; onClose: () => void; onTextError: (err: unknown) => void }) {
  const b = useBlock(id ?? '');
  if (id === null) return <p className="empty">Pick a block in the list to edit it.</p>;
  if (!b) {
    return (
      <p className="empty" data-testid="editor-gone">
        The block was removed.
      </p>
    );
  }
  return (
    <form className="block-editor" data-testid="block-editor" data-block-id={id} onSubmit={(e) => e.preventDefault()}>
      <NameField id={id} name={b.name} edit={edit} />
      <PromptField key={id} id={id} onError={onTextError} />
      <p className="meta">
        {b.type} at ({Math.round(b.position.x)}, {Math.round(b.position.y)})
      </p>
      <button
        type="button"
        className="danger"
        data-testid="editor-delete"
        onClick={() => {
          if (edit('block remove', 'remove', 'block', { id })) onClose();
        }}
      >
        Delete block
      </button>
    </form>
  );
}

/**
 * NameField edits a draft and renames on Enter or blur: a name is checked
 * as a whole (unique, not empty), so it is not written keystroke by
 * keystroke. While not editing, it shows the current name (another
 * window's rename included).
 */
function NameField({ id, name, edit }: { id: string; name: string; edit: Edit }) {
  const [draft, setDraft] = useState<string | null>(null);
  useEffect(() => setDraft(null), [id]);
  const commit = () => {
    if (draft !== null && draft.trim() !== '' && draft !== name) edit('rename', 'update-name', 'block', { id, name: draft });
    setDraft(null);
  };
  return (
    <label>
      Name
      <input
        data-testid="editor-name"
        value={draft ?? name}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
          if (e.key === 'Escape') setDraft(null);
        }}
      />
    </label>
  );
}
