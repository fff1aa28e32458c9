// The flowsync demo editor: a shared canvas of blocks and edges, live
// cursors, a roster, an offline switch and a saved/saving/offline
// indicator, all on the browser SDK (../src). Served by `flowsync serve` at
// /demo/ (sync/server/web.go); built by ../build.mjs.

import { CloseCode, CloseError, FlowsyncClient, type LifecycleEvent, type RejectError } from '../src/index';
import { readConfig } from './config';
import { Editor, colorOf } from './editor';

declare global {
  interface Window {
    /** For end-to-end tests and the curious: the live client and a JSON view of the document. */
    __flowsync?: { client: FlowsyncClient; editor: Editor; view(): unknown; banners(): string[] };
  }
}

const $ = <T extends Element>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`demo: missing element ${sel}`);
  return el;
};

const banners = $<HTMLDivElement>('#banners');
const bannerLog: string[] = [];

/** banner shows a dismissible notice: kind is reject (refused edit), event (lifecycle), error or info. */
function banner(kind: 'reject' | 'event' | 'error' | 'info', message: string): void {
  bannerLog.push(`${kind}: ${message}`);
  const el = document.createElement('div');
  el.className = `banner ${kind}`;
  el.dataset.testid = 'banner';
  el.dataset.kind = kind;
  el.setAttribute('role', kind === 'info' ? 'status' : 'alert');
  const text = document.createElement('span');
  text.textContent = message;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.title = 'Dismiss';
  close.setAttribute('aria-label', 'Dismiss');
  close.dataset.testid = 'banner-close';
  close.addEventListener('click', () => el.remove());
  el.append(text, close);
  banners.append(el);
  while (banners.childElementCount > 5) banners.firstElementChild!.remove();
}

/** describe renders an error for a banner (the SDK prefixes its messages with "flowsync: "). */
function describe(x: unknown): string {
  const m = x instanceof Error ? x.message : String(x);
  return m.replace(/^flowsync: /, '');
}

/** Why the server refuses an edit for good, in the user's words (PROTOCOL.md §5). */
const REJECT_TEXT: Record<string, string> = {
  PERMISSION_DENIED: 'you have read-only access to this workflow',
  BLOCK_LOCKED: 'the block is locked',
  WORKFLOW_LOCKED: 'the workflow is locked',
  CLOCK_SKEW: "this computer's clock is off",
  TOO_LARGE: 'the edit is too large',
};

function rejectText(r: RejectError): string {
  const why = REJECT_TEXT[r.codeName] ?? (r.serverMessage || r.codeName);
  return `The server refused your edit (${r.codeName}): ${why}. Your unsaved edits were rolled back to the server's state.`;
}

const EVENT_TEXT: Record<string, string> = {
  'workflow-deleted': 'This workflow was deleted. Your further edits will not be saved.',
  'access-revoked': 'Your access to this workflow was revoked.',
  'workflow-updated': 'The workflow was changed outside the editor.',
  'workflow-reverted': 'The workflow was reverted to its deployed state.',
  'workflow-deployed': 'The workflow was deployed.',
};

async function main(): Promise<void> {
  const cfg = readConfig(location, sessionStorage);
  $('[data-testid="workflow-id"]').textContent = cfg.workflowId;
  $('[data-testid="me"]').textContent = cfg.userName;

  const client = await FlowsyncClient.open({
    url: cfg.url,
    token: cfg.token,
    workflowId: cfg.workflowId,
    persistence: 'indexeddb',
    dbName: cfg.dbName,
    clientName: 'flowsync-demo',
    autoConnect: !cfg.startOffline,
  });

  const editor = new Editor($('[data-testid="canvas"]'), client, (msg) => banner('error', msg));

  const status = $<HTMLSpanElement>('[data-testid="status"]');
  const role = $<HTMLSpanElement>('[data-testid="role"]');
  const me = $<HTMLSpanElement>('[data-testid="me"]');
  const offline = $<HTMLInputElement>('[data-testid="offline-toggle"]');
  const add = $<HTMLButtonElement>('[data-testid="add-block"]');
  const undo = $<HTMLButtonElement>('[data-testid="undo"]');
  const redo = $<HTMLButtonElement>('[data-testid="redo"]');
  const roster = $<HTMLUListElement>('[data-testid="roster"]');

  const showStatus = () => {
    const s = client.status();
    status.textContent = s.label;
    status.dataset.state = s.state;
    status.dataset.pending = String(s.pending);
    if (client.user) me.textContent = client.user.name || client.user.id;
    const r = client.role;
    role.textContent = r === null ? '' : r === 'read' ? 'read-only' : r;
    role.title = r === 'read' ? 'You may look, not edit: the server refuses your edits (try it).' : '';
    role.dataset.role = r ?? '';
    document.body.dataset.role = r ?? '';
  };

  const showRoster = () => {
    const entries = client.roster();
    if (entries.length === 0) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.dataset.testid = 'roster-empty';
      li.textContent = 'Not connected: nobody sees you, and you see nobody.';
      roster.replaceChildren(li);
      return;
    }
    roster.replaceChildren(
      ...entries.map((r) => {
        const li = document.createElement('li');
        li.dataset.testid = 'roster-entry';
        li.dataset.sid = r.sid;
        li.dataset.uid = r.uid;
        li.style.setProperty('--c', colorOf(r.sid));
        const self = r.sid === client.sessionId;
        li.classList.toggle('self', self);
        li.textContent = `${r.name || r.uid}${r.role ? ` (${r.role})` : ''}${self ? ' · you' : ''}`;
        return li;
      }),
    );
  };

  client.on('change', () => editor.changed());
  client.on('status', () => showStatus());
  client.on('roster', () => {
    showRoster();
    editor.render();
  });
  client.on('presence', () => editor.render());
  client.on('drag', (d) => editor.onRemoteDrag(d.pos));
  client.on('reject', (r) => {
    banner('reject', rejectText(r));
    // The local document still holds the refused writes: this editor's policy
    // is to roll back to the server's state at once (the client leaves the
    // choice to the app; see FlowsyncClient.reset).
    client.reset();
    editor.changed();
    showStatus();
  });
  client.on('rename', (r) => {
    banner('info', `"${r.name}" shows as "${r.shownAs}": another window used that name at the same time. Rename it to settle.`);
  });
  let deleted = false;
  client.on('event', (ev: LifecycleEvent) => {
    // Unknown kinds are shown with the server's message (PROTOCOL.md §4.17 says ignore; a demo shows).
    const known = EVENT_TEXT[ev.kind];
    banner('event', known ? `${known}${ev.msg ? ` (${ev.msg})` : ''}` : `${ev.kind}${ev.msg ? ': ' + ev.msg : ''}`);
    if (ev.kind === 'workflow-deleted') {
      deleted = true;
      add.disabled = true;
      undo.disabled = redo.disabled = true;
      document.body.dataset.deleted = 'true';
    }
  });
  client.on('error', (err) => {
    // The close that follows a deletion was already explained by its event.
    if (deleted && err instanceof CloseError && err.closeCode === CloseCode.WORKFLOW_DELETED) return;
    banner('error', describe(err));
  });

  offline.checked = cfg.startOffline;
  offline.addEventListener('change', () => {
    if (offline.checked) {
      sessionStorage.setItem(cfg.offlineKey, '1');
      client.goOffline();
    } else {
      sessionStorage.removeItem(cfg.offlineKey);
      client.goOnline();
    }
    showStatus();
  });
  add.addEventListener('click', () => {
    editor.addBlock();
    showStatus();
  });
  const showHistory = () => {
    undo.disabled = deleted || !client.canUndo;
    redo.disabled = deleted || !client.canRedo;
  };
  client.on('history', showHistory);
  undo.addEventListener('click', () => editor.history('undo'));
  redo.addEventListener('click', () => editor.history('redo'));
  document.addEventListener('input', () => showStatus());
  // Releases the replica id (so a reload claims it back) and lets storage finish.
  window.addEventListener('pagehide', () => void client.close());

  offline.disabled = false;
  add.disabled = false;
  showHistory();
  window.__flowsync = {
    client,
    editor,
    view: () => JSON.parse(JSON.stringify(client.view())) as unknown,
    banners: () => [...bannerLog],
  };
  showStatus();
  showRoster();
  editor.render();
  document.body.dataset.ready = 'true';
}

main().catch((err: unknown) => {
  banner('error', `The editor could not start: ${describe(err)}`);
  document.body.dataset.ready = 'failed';
  console.error(err);
});
