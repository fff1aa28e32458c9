// The React demo's page: the header (status, offline switch, add block),
// the banners, the block list and editor, the roster. Each part reads only
// what it shows through a hook, so a remote edit re-renders the rows it
// touched and a moving cursor re-renders the roster alone.

import { useCallback, useEffect, useState } from 'react';
import { CloseCode, CloseError, type RejectError } from '../../src/index';
import { useClientEvent, useOperations, useStatus, useUndo } from '../../src/react';
import type { DemoConfig } from '../config';
import { historyKey } from '../shortcuts';
import { BlockEditor, BlockList, useAddBlock } from './blocks';
import { Roster } from './roster';

interface Banner {
  id: number;
  kind: 'reject' | 'event' | 'error' | 'info';
  text: string;
}

/** Why the server refuses an edit for good, in the user's words (PROTOCOL.md §5). */
const REJECT_TEXT: Record<string, string> = {
  PERMISSION_DENIED: 'you have read-only access to this workflow',
  BLOCK_LOCKED: 'the block is locked',
  WORKFLOW_LOCKED: 'the workflow is locked',
  CLOCK_SKEW: "this computer's clock is off",
  TOO_LARGE: 'the edit is too large',
};

const describe = (x: unknown) => (x instanceof Error ? x.message : String(x)).replace(/^flowsync: /, '');

export function App({ cfg, log }: { cfg: DemoConfig; log: string[] }) {
  const [banners, setBanners] = useState<Banner[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const ops = useOperations();
  const { stopCapturing } = useUndo(); // the same function at every render

  const banner = useCallback(
    (kind: Banner['kind'], text: string) => {
      log.push(`${kind}: ${text}`);
      setBanners((bs) => [...bs.slice(-4), { id: log.length, kind, text }]);
    },
    [log],
  );
  const select = useCallback(
    (id: string | null) => {
      setSelected(id);
      try {
        ops.setPresence({ selection: id ? { t: 'block', id } : { t: 'none' } });
      } catch {
        // closed: nobody is left to tell
      }
    },
    [ops],
  );
  const edit = useCallback(
    (what: string, name: string, target: string, payload: Record<string, unknown>): boolean => {
      try {
        // One undo step per command, as in the canvas demo: not grouped by
        // time with the typing before or after it.
        stopCapturing();
        ops.applyWire(name, target, payload);
        stopCapturing();
        return true;
      } catch (err) {
        banner('error', `${what} not applied: ${describe(err)}`);
        return false;
      }
    },
    [ops, stopCapturing, banner],
  );

  useClientEvent('reject', (r: RejectError) => {
    const why = REJECT_TEXT[r.codeName] ?? (r.serverMessage || r.codeName);
    banner('reject', `The server refused your edit (${r.codeName}): ${why}. Your unsaved edits were rolled back to the server's state.`);
    // This demo's policy, as the canvas demo's: roll back to the server's state at once.
    ops.reset();
  });
  useClientEvent('event', (ev) => banner('event', `${ev.kind}${ev.msg ? `: ${ev.msg}` : ''}`));
  useClientEvent('rename', (r) => banner('info', `"${r.name}" shows as "${r.shownAs}": another window used that name at the same time.`));
  useClientEvent('error', (err) => {
    if (err instanceof CloseError && err.closeCode === CloseCode.WORKFLOW_DELETED) return; // its event explained it
    banner('error', describe(err));
  });

  const addBlock = useAddBlock(edit, select);
  const history = useUndo();
  const runHistory = useCallback(
    (what: 'undo' | 'redo') => {
      try {
        if (what === 'undo') history.undo();
        else history.redo();
      } catch (err) {
        banner('error', `${what} not applied: ${describe(err)}`);
      }
    },
    [history, banner],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const what = historyKey(e);
      if (what === null) return;
      e.preventDefault();
      runHistory(what);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [runHistory]);

  return (
    <>
      <Header cfg={cfg} onAdd={addBlock} onHistory={runHistory} />
      <div className="banners" aria-live="polite">
        {banners.map((b) => (
          <div key={b.id} className={`banner ${b.kind}`} data-testid="banner" data-kind={b.kind} role={b.kind === 'info' ? 'status' : 'alert'}>
            <span>{b.text}</span>
            <button type="button" aria-label="Dismiss" title="Dismiss" onClick={() => setBanners((bs) => bs.filter((x) => x.id !== b.id))}>
              ×
            </button>
          </div>
        ))}
      </div>
      <div className="layout react-layout">
        <main className="list-pane">
          <BlockList selected={selected} onSelect={select} />
        </main>
        <section className="editor-pane" aria-label="Block editor">
          <BlockEditor id={selected} edit={edit} onClose={() => select(null)} onTextError={(err) => banner('error', `prompt not edited: ${describe(err)}`)} />
        </section>
        <aside className="side">
          <h2>In this workflow</h2>
          <Roster />
          <h2>How to</h2>
          <ul className="help">
            <li>Add a block, pick it in the list, edit its name and prompt.</li>
            <li>Ctrl+Z (⌘Z) undoes your own last edit, Shift+Ctrl+Z or Ctrl+Y redoes it; others' edits are never undone.</li>
            <li>Open this page (or the canvas demo, /demo/) in a second window with another <code>user=</code>: edits and selections show in both.</li>
          </ul>
        </aside>
      </div>
    </>
  );
}

function Header({ cfg, onAdd, onHistory }: { cfg: DemoConfig; onAdd: () => void; onHistory: (what: 'undo' | 'redo') => void }) {
  const s = useStatus();
  const ops = useOperations();
  const { canUndo, canRedo } = useUndo();
  const [offline, setOffline] = useState(cfg.startOffline);
  const toggle = (off: boolean) => {
    setOffline(off);
    if (off) {
      sessionStorage.setItem(cfg.offlineKey, '1');
      ops.goOffline();
    } else {
      sessionStorage.removeItem(cfg.offlineKey);
      ops.goOnline();
    }
  };
  const deleted = s.state === 'deleted';
  return (
    <header className="bar">
      <strong className="brand">flowsync</strong>
      <span className="wf">
        workflow <code data-testid="workflow-id">{cfg.workflowId}</code> · React
      </span>
      <span className="me">
        as <span data-testid="me">{s.user ? s.user.name || s.user.id : cfg.userName}</span>{' '}
        <span className="role" data-testid="role" data-role={s.role ?? ''}>
          {s.role === null ? '' : s.role === 'read' ? 'read-only' : s.role}
        </span>
      </span>
      <button type="button" data-testid="add-block" onClick={onAdd} disabled={deleted}>
        Add block
      </button>
      <button type="button" data-testid="undo" title="Undo (Ctrl+Z, ⌘Z)" onClick={() => onHistory('undo')} disabled={deleted || !canUndo}>
        Undo
      </button>
      <button type="button" data-testid="redo" title="Redo (Shift+Ctrl+Z, Ctrl+Y, ⇧⌘Z)" onClick={() => onHistory('redo')} disabled={deleted || !canRedo}>
        Redo
      </button>
      <label className="offline">
        <input type="checkbox" data-testid="offline-toggle" checked={offline} onChange={(e) => toggle(e.target.checked)} /> Offline
      </label>
      <span className="status" data-testid="status" data-state={s.state} data-pending={s.pending}>
        {s.label}
      </span>
    </header>
  );
}
