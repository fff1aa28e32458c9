// @vitest-environment happy-dom
// The React bindings (src/react) against a client driven by a scripted
// server: which components re-render for a remote delta, a local edit and a
// presence update (render counts), status transitions, presence, and that
// unmounting the provider leaves no listener on the client and closes the
// client the provider opened.
import { act, memo, StrictMode, useRef, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import { FlowsyncClient, FlowsyncError, type FlowsyncClientOptions, type View } from '../src/index';
import {
  FlowsyncProvider,
  useBlock,
  useClientEvent,
  useOperations,
  usePresence,
  useUndo,
  useStatus,
  useWorkflow,
  type FlowsyncStatus,
} from '../src/react';
import { Clock } from '../src/crdt/hlc';
import { apply } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { parseOp } from '../src/workflow/parse';
import { FrameType, type RosterEntry as WireRosterEntry } from '../src/protocol';
import { FlowsyncStore } from '../src/react/store';
import { ScriptedServer, type ScriptedSocket } from './scripted';
import { waitFor } from './helpers';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const base = { url: 'ws://127.0.0.1:1/v1/sync', token: 't', workflowId: 'wf', persistence: 'memory' as const, autoConnect: false, locks: null, tabSessionId: 'tab' };

let roots: Root[] = [];
let clients: FlowsyncClient[] = [];
afterEach(async () => {
  for (const r of roots) act(() => r.unmount());
  roots = [];
  for (const c of clients) await c.close();
  clients = [];
  document.body.replaceChildren();
});

function mount(node: ReactNode): HTMLElement {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  act(() => root.render(node));
  return el;
}

/** A client joined to a scripted server, holding blocks a and b. */
async function joined(): Promise<{ client: FlowsyncClient; ws: ScriptedSocket; server: ScriptedServer }> {
  const server = new ScriptedServer();
  const client = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
  clients.push(client);
  client.goOnline();
  const ws = server.last;
  ws.join();
  for (const id of ['a', 'b']) {
    client.applyWire('add', 'block', { id, type: 'agent', name: id.toUpperCase(), position: { x: 0, y: 0 } });
  }
  return { client, ws, server };
}

/** remoteWindow plays another window that starts from client's document: its ops arrive as RemoteDelta frames. */
function remoteWindow(ws: ScriptedSocket, client?: FlowsyncClient) {
  const other = client ? client.doc.clone() : new Doc();
  const clock = new Clock('other-window');
  return (name: string, target: string, payload: Record<string, unknown>) => {
    const d = apply(other, clock.now(Date.now()), parseOp(name, target, payload));
    act(() =>
      ws.deliver({ type: FrameType.RemoteDelta, workflowId: 'wf', delta: d.encode(), origin: { userId: 'bob', sessionId: 's2', replicaId: 'other-window' } }),
    );
  };
}

/** Render counts by component label. */
class Renders {
  readonly counts = new Map<string, number>();
  hit(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
  /** since returns how many renders each label had after snap. */
  since(snap: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.counts) if (v !== (snap[k] ?? 0)) out[k] = v - (snap[k] ?? 0);
    return out;
  }
}

// memo: when the list re-renders (a block added), the rows whose props are
// the same skip; useBlock re-renders a row when its block changed.
const Block = memo(function Block({ id, renders }: { id: string; renders: Renders }) {
  const b = useBlock(id);
  renders.hit(`block:${id}`);
  return <li data-id={id}>{b ? b.name : '(gone)'}</li>;
});

function BlockList({ renders }: { renders: Renders }) {
  const order = useWorkflow((v) => v.order);
  renders.hit('list');
  return (
    <ul>
      {order.map((id) => (
        <Block key={id} id={id} renders={renders} />
      ))}
    </ul>
  );
}

function Presence({ renders }: { renders: Renders }) {
  const others = usePresence((p) => p.others.map((r) => `${r.name}@${r.cur ? `${r.cur.x},${r.cur.y}` : '-'}`));
  renders.hit('presence');
  return <p data-testid="others">{others.join(' ')}</p>;
}

function Status({ renders }: { renders: Renders }) {
  const s = useStatus();
  renders.hit('status');
  return <p data-testid="status">{`${s.state} ${s.pending} ${s.online} ${s.syncing} ${s.saved} ${s.role}`}</p>;
}

const text = (el: HTMLElement) => [...el.querySelectorAll('li')].map((li) => li.textContent).join(',');

describe('re-renders only what changed', () => {
  it('a remote rename re-renders that block alone; the list re-renders when a block is added', async () => {
    const { client, ws } = await joined();
    const renders = new Renders();
    const el = mount(
      <FlowsyncProvider client={client}>
        <BlockList renders={renders} />
        <Presence renders={renders} />
        <Status renders={renders} />
      </FlowsyncProvider>,
    );
    expect(text(el)).toBe('A,B');
    const remote = remoteWindow(ws, client);

    let snap = renders.snapshot();
    remote('update-name', 'block', { id: 'a', name: 'Alpha' });
    expect(text(el)).toBe('Alpha,B');
    expect(renders.since(snap)).toEqual({ 'block:a': 1 });

    snap = renders.snapshot();
    act(() => client.applyWire('update-name', 'block', { id: 'b', name: 'Beta' }));
    expect(text(el)).toBe('Alpha,Beta');
    // The local edit also changed the status (pending grew).
    expect(renders.since(snap)).toEqual({ 'block:b': 1, status: 1 });

    // A write that leaves the view as it was (the same name again) re-renders nothing.
    snap = renders.snapshot();
    remote('update-name', 'block', { id: 'a', name: 'Alpha' });
    expect(renders.since(snap)).toEqual({});

    snap = renders.snapshot();
    remote('add', 'block', { id: 'c', type: 'agent', name: 'C', position: { x: 0, y: 0 } });
    expect(text(el)).toBe('Alpha,Beta,C');
    expect(renders.since(snap)).toEqual({ list: 1, 'block:c': 1 });

    snap = renders.snapshot();
    remote('remove', 'block', { id: 'a' });
    expect(text(el)).toBe('Beta,C');
    // The removed block's component unmounts; the others keep their render.
    expect(renders.since(snap)).toEqual({ list: 1 });
  });

  it('presence updates re-render the presence component and nothing else', async () => {
    const { client, ws } = await joined();
    const renders = new Renders();
    const el = mount(
      <FlowsyncProvider client={client}>
        <BlockList renders={renders} />
        <Presence renders={renders} />
      </FlowsyncProvider>,
    );
    const entry = (sid: string, name: string): WireRosterEntry => ({ sessionId: sid, userId: name.toLowerCase(), name, role: 'write', joinedAtMs: 1, lastActivityMs: 1, cursor: null });
    let snap = renders.snapshot();
    act(() => ws.deliver({ type: FrameType.Roster, workflowId: 'wf', entries: [entry('s1', 'Ann'), entry('s2', 'Bob')] }));
    expect(el.querySelector('[data-testid="others"]')!.textContent).toBe('Bob@-');
    expect(renders.since(snap)).toEqual({ presence: 1 });

    snap = renders.snapshot();
    act(() => ws.deliver({ type: FrameType.PresenceUpdate, workflowId: 'wf', sessionId: 's2', userId: 'bob', name: 'Bob', cursor: { x: 5, y: 6 } }));
    expect(el.querySelector('[data-testid="others"]')!.textContent).toBe('Bob@5,6');
    expect(renders.since(snap)).toEqual({ presence: 1 });

    // Our own cursor is in the roster but not in others: nothing re-renders.
    snap = renders.snapshot();
    act(() => ws.deliver({ type: FrameType.PresenceUpdate, workflowId: 'wf', sessionId: 's1', userId: 'ann', name: 'Ann', cursor: { x: 1, y: 1 } }));
    expect(renders.since(snap)).toEqual({});
  });

  it('the view is rebuilt once per change, however many components read it', async () => {
    const { client, ws } = await joined();
    const renders = new Renders();
    let views = 0;
    const view = client.view.bind(client);
    client.view = () => {
      views++;
      return view();
    };
    mount(
      <FlowsyncProvider client={client}>
        <BlockList renders={renders} />
      </FlowsyncProvider>,
    );
    const remote = remoteWindow(ws, client);
    views = 0;
    remote('update-name', 'block', { id: 'a', name: 'Alpha' });
    remote('update-name', 'block', { id: 'b', name: 'Beta' });
    // Three components (the list, two blocks) read the view: two rebuilds, one per delta.
    expect(views).toBe(2);
  });

  it('mounting many rows builds the view once, not once per row', async () => {
    const { client } = await joined();
    const blocks = Array.from({ length: 200 }, (_, i) => ({ id: `m${i}`, type: 'agent', name: `M${i}`, position: { x: i, y: 0 } }));
    client.applyWire('batch-add-blocks', 'blocks', { blocks });
    let views = 0;
    const view = client.view.bind(client);
    client.view = () => {
      views++;
      return view();
    };
    const renders = new Renders();
    const el = mount(
      <FlowsyncProvider client={client}>
        <BlockList renders={renders} />
      </FlowsyncProvider>,
    );
    expect(el.querySelectorAll('li')).toHaveLength(202);
    // Once for the first render; React's check after subscribing reuses it.
    expect(views).toBe(1);
  });

  it('a store read outside React sees every change, and stops listening at the end of the task', async () => {
    const { client } = await joined();
    const store = new FlowsyncStore(client);
    expect(store.view.get().blocks.a.name).toBe('A');
    client.applyWire('update-name', 'block', { id: 'a', name: 'Now' });
    expect(store.view.get().blocks.a.name).toBe('Now');
    expect(store.view.watching).toBe(true);
    await Promise.resolve();
    expect(store.view.watching).toBe(false);
    client.applyWire('update-name', 'block', { id: 'a', name: 'Later' });
    expect(store.view.get().blocks.a.name).toBe('Later');
  });

  it('a rebuilt view keeps the objects of what did not change', async () => {
    const { client, ws } = await joined();
    const seen: View[] = [];
    function Whole() {
      seen.push(useWorkflow());
      return null;
    }
    mount(
      <FlowsyncProvider client={client}>
        <Whole />
      </FlowsyncProvider>,
    );
    const remote = remoteWindow(ws, client);
    remote('update-name', 'block', { id: 'a', name: 'Alpha' });
    const [before, after] = seen.slice(-2);
    expect(after).not.toBe(before);
    expect(after.blocks.a.name).toBe('Alpha');
    expect(after.blocks.b).toBe(before.blocks.b);
    expect(after.blocks.a.position).toBe(before.blocks.a.position);
    expect(after.variables).toBe(before.variables);
    expect(after.order).toBe(before.order);

    // The store shares too (once per change, so each hook's own sharing
    // finds its slice unchanged by identity, without walking it).
    const store = new FlowsyncStore(client);
    const off = store.view.subscribe(() => {});
    const v1 = store.view.get();
    remote('update-name', 'block', { id: 'b', name: 'Beta' });
    const v2 = store.view.get();
    expect(v2.blocks.b.name).toBe('Beta');
    expect(v2.blocks.a).toBe(v1.blocks.a);
    expect(store.view.get()).toBe(v2);
    expect(store.view.computations).toBe(2);
    off();
    expect(store.view.listening).toBe(0);
  });
});

describe('status and remote deltas', () => {
  it('follows the connection: offline, connecting, live, syncing, saved; remote deltas show', async () => {
    const server = new ScriptedServer();
    const client = await FlowsyncClient.open({ ...base, WebSocket: server.WebSocket });
    clients.push(client);
    const seen: string[] = [];
    function Watch() {
      const s: FlowsyncStatus = useStatus();
      const last = useRef('');
      const line = `${s.state} pending=${s.pending} online=${s.online} syncing=${s.syncing} saved=${s.saved} role=${s.role}`;
      if (line !== last.current) seen.push(line);
      last.current = line;
      const names = useWorkflow((v) => Object.values(v.variables).map((x) => x.name).sort());
      return <p data-testid="vars">{names.join(',')}</p>;
    }
    const el = mount(
      <FlowsyncProvider client={client}>
        <Watch />
      </FlowsyncProvider>,
    );
    act(() => client.goOnline());
    const ws = server.last;
    act(() => ws.join());
    act(() => client.applyWire('add', 'variable', { id: 'v1', name: 'mine', type: 'plain', value: 1 }));
    await waitFor('the delta sent', () => ws.sentOf(FrameType.Delta).length === 1);
    const opId = ws.sentOf(FrameType.Delta)[0].opId;
    act(() => ws.deliver({ type: FrameType.Applied, opId }));
    act(() => ws.deliver({ type: FrameType.Durable, opIds: [opId] }));
    const remote = remoteWindow(ws, client);
    remote('add', 'variable', { id: 'v2', name: 'theirs', type: 'plain', value: 2 });
    expect(el.querySelector('[data-testid="vars"]')!.textContent).toBe('mine,theirs');
    act(() => client.goOffline());
    expect(seen).toEqual([
      'offline pending=0 online=false syncing=false saved=false role=null',
      // ws.join plays Welcome and Joined in one task: React renders the
      // 'joining' in between not at all (the status event still fires).
      'connecting pending=0 online=false syncing=false saved=false role=null',
      'live pending=0 online=true syncing=false saved=true role=write',
      'live pending=1 online=true syncing=true saved=false role=write',
      'live pending=0 online=true syncing=false saved=true role=write',
      'offline pending=0 online=false syncing=false saved=false role=write',
    ]);
  });

  it('useOperations edits; useClientEvent hears events with the latest handler', async () => {
    const { client, ws } = await joined();
    const heard: string[] = [];
    let ops: ReturnType<typeof useOperations> | null = null;
    const opsSeen = new Set<unknown>();
    function Editor({ tag }: { tag: string }) {
      ops = useOperations();
      opsSeen.add(ops);
      useClientEvent('event', (ev) => heard.push(`${tag}:${ev.kind}`));
      const b = useBlock('a');
      return <p data-testid="a">{b?.name}</p>;
    }
    const el = document.createElement('div');
    document.body.append(el);
    const root = createRoot(el);
    roots.push(root);
    act(() =>
      root.render(
        <FlowsyncProvider client={client}>
          <Editor tag="one" />
        </FlowsyncProvider>,
      ),
    );
    act(() => ops!.applyWire('update-name', 'block', { id: 'a', name: 'Renamed' }));
    expect(el.querySelector('[data-testid="a"]')!.textContent).toBe('Renamed');
    act(() =>
      root.render(
        <FlowsyncProvider client={client}>
          <Editor tag="two" />
        </FlowsyncProvider>,
      ),
    );
    act(() => ws.deliver({ type: FrameType.Event, workflowId: 'wf', kind: 'workflow-deployed', timestampMs: 1 }));
    expect(heard).toEqual(['two:workflow-deployed']);
    expect(opsSeen.size).toBe(1); // the same object at every render
    expect(() => ops!.applyWire('update-name', 'block', { id: 'nope', name: 'X' })).toThrow();
  });
});

describe('useUndo', () => {
  it('re-renders on canUndo and canRedo changes, and undoes and redoes', async () => {
    const { client } = await joined();
    let u: ReturnType<typeof useUndo> | null = null;
    let renders = 0;
    function Toolbar() {
      u = useUndo();
      renders++;
      return <p data-testid="t">{`${u.canUndo}/${u.canRedo}`}</p>;
    }
    const el = mount(
      <FlowsyncProvider client={client}>
        <Toolbar />
      </FlowsyncProvider>,
    );
    const text = () => el.querySelector('[data-testid="t"]')!.textContent;
    expect(text()).toBe('true/false'); // joined() added a and b
    const n = renders;
    act(() => u!.stopCapturing());
    act(() => void client.applyWire('update-name', 'block', { id: 'a', name: 'Renamed' }));
    expect(renders).toBe(n); // canUndo stayed true: no render
    act(() => void u!.undo());
    expect(client.view().blocks['a']?.name).toBe('A');
    expect(text()).toBe('true/true');
    act(() => void u!.redo());
    expect(client.view().blocks['a']?.name).toBe('Renamed');
    expect(text()).toBe('true/false');
  });
});

describe('provider lifecycle', () => {
  /** countListeners wraps client.on to count the listeners still attached. */
  function countListeners(client: FlowsyncClient): { live: () => number } {
    let live = 0;
    const on = client.on.bind(client);
    client.on = ((event, fn) => {
      const off = on(event, fn);
      live++;
      let done = false;
      return () => {
        if (!done) live--;
        done = true;
        off();
      };
    }) as FlowsyncClient['on'];
    return { live: () => live };
  }

  it('unmounting the tree leaves no listener on a client the app owns, and does not close it', async () => {
    const { client, ws } = await joined();
    const l = countListeners(client);
    const renders = new Renders();
    const el = document.createElement('div');
    document.body.append(el);
    const root = createRoot(el);
    act(() =>
      root.render(
        <StrictMode>
          <FlowsyncProvider client={client}>
            <BlockList renders={renders} />
            <Presence renders={renders} />
            <Status renders={renders} />
          </FlowsyncProvider>
        </StrictMode>,
      ),
    );
    expect(l.live()).toBeGreaterThan(0);
    act(() => root.unmount());
    expect(l.live()).toBe(0);
    expect(client.status().state).toBe('live');
    expect(ws.closedWith).toBe(null);
    // Changes after unmount reach no component.
    const snap = renders.snapshot();
    remoteWindow(ws, client)('update-name', 'block', { id: 'a', name: 'After' });
    expect(renders.since(snap)).toEqual({});
  });

  it('opens the client from options, closes it at unmount; reopens when the workflow changes', async () => {
    const server = new ScriptedServer();
    const opened: FlowsyncClient[] = [];
    const opts = (wf: string): FlowsyncClientOptions => ({ ...base, workflowId: wf, WebSocket: server.WebSocket, autoConnect: true });
    const renders = new Renders();
    const tree = (wf: string) => (
      <FlowsyncProvider options={opts(wf)} fallback={<p data-testid="loading">loading</p>} onOpen={(c) => opened.push(c)}>
        <Status renders={renders} />
      </FlowsyncProvider>
    );
    const el = document.createElement('div');
    document.body.append(el);
    const root = createRoot(el);
    act(() => root.render(tree('wf1')));
    expect(el.textContent).toBe('loading');
    await act(async () => {
      await waitFor('the client to open', () => opened.length === 1);
    });
    expect(el.querySelector('[data-testid="status"]')!.textContent).toMatch(/^connecting /);
    act(() => server.last.join());
    expect(el.querySelector('[data-testid="status"]')!.textContent).toMatch(/^live /);

    // Another workflow: the first client is closed, another opened.
    act(() => root.render(tree('wf2')));
    await act(async () => {
      await waitFor('the second client to open', () => opened.length === 2);
    });
    await waitFor('the first client closed', () => opened[0].status().state === 'closed');
    expect(server.sockets[0].closedWith).not.toBe(null);
    expect(opened[1].workflowId).toBe('wf2');

    act(() => root.unmount());
    await waitFor('the second client closed', () => opened[1].status().state === 'closed');
    expect(server.sockets.every((s) => s.readyState === 3)).toBe(true);
  });

  it('under StrictMode (effects run twice) one client stays open, and none after unmount', async () => {
    const server = new ScriptedServer();
    const opened: FlowsyncClient[] = [];
    const open = FlowsyncClient.open;
    FlowsyncClient.open = async (o) => {
      const c = await open(o);
      opened.push(c);
      return c;
    };
    try {
      const el = document.createElement('div');
      document.body.append(el);
      const root = createRoot(el);
      const renders = new Renders();
      act(() =>
        root.render(
          <StrictMode>
            <FlowsyncProvider options={{ ...base, WebSocket: server.WebSocket }}>
              <Status renders={renders} />
            </FlowsyncProvider>
          </StrictMode>,
        ),
      );
      await act(async () => {
        await waitFor('both clients opened', () => opened.length === 2);
      });
      expect(el.querySelector('[data-testid="status"]')!.textContent).toMatch(/^offline /);
      await waitFor('the first client closed', () => opened.filter((c) => c.status().state === 'closed').length === opened.length - 1);
      expect(opened).toHaveLength(2);
      expect(opened.filter((c) => c.status().state !== 'closed')).toHaveLength(1);
      act(() => root.unmount());
      await waitFor('every client closed', () => opened.every((c) => c.status().state === 'closed'));
    } finally {
      FlowsyncClient.open = open;
    }
  });

  it('a client that finishes opening after unmount is closed at once', async () => {
    const server = new ScriptedServer();
    const opened: FlowsyncClient[] = [];
    const el = document.createElement('div');
    document.body.append(el);
    const root = createRoot(el);
    const open = FlowsyncClient.open;
    let count = 0;
    FlowsyncClient.open = async (o) => {
      const c = await open(o);
      opened.push(c);
      count++;
      return c;
    };
    try {
      act(() => root.render(<FlowsyncProvider options={{ ...base, WebSocket: server.WebSocket, autoConnect: true }}>child</FlowsyncProvider>));
      act(() => root.unmount()); // before open resolved
      await waitFor('the client to open', () => count === 1);
      await waitFor('the client to be closed', () => opened[0].status().state === 'closed');
    } finally {
      FlowsyncClient.open = open;
    }
  });

  it('reports invalid options with onError and keeps the fallback; hooks outside a provider throw', async () => {
    const errors: Error[] = [];
    const el = mount(
      <FlowsyncProvider options={{ ...base, url: 'http://nope' }} fallback={<p>no editor</p>} onError={(e) => errors.push(e)}>
        child
      </FlowsyncProvider>,
    );
    await act(async () => {
      await waitFor('onError', () => errors.length === 1);
    });
    expect(errors[0]).toBeInstanceOf(FlowsyncError);
    expect((errors[0] as FlowsyncError).kind).toBe('config');
    expect(el.textContent).toBe('no editor');

    function Orphan() {
      useStatus();
      return null;
    }
    const root = createRoot(document.createElement('div'));
    let thrown: unknown = null;
    const onError = (e: ErrorEvent) => e.preventDefault();
    window.addEventListener('error', onError);
    try {
      act(() => root.render(<Orphan />));
    } catch (e) {
      thrown = e;
    } finally {
      window.removeEventListener('error', onError);
    }
    expect(thrown).toBeInstanceOf(FlowsyncError);
    expect((thrown as FlowsyncError).kind).toBe('config');
  });
});

describe('useText', () => {
  it('re-renders with the text and the remote carets, and binds a textarea both ways', async () => {
    const { useText } = await import('../src/react');
    const { client, ws } = await joined();
    client.applyWire('add', 'block', { id: 't', type: 'agent', name: 'T', position: { x: 0, y: 0 }, subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'hello' } } });
    const remote = remoteWindow(ws, client);
    let renders = 0;
    function Prompt() {
      const t = useText({ blockId: 't', subBlockId: 'prompt' });
      renders++;
      return (
        <div>
          <textarea data-testid="box" ref={t.bind} />
          <p data-testid="value">{t.value}</p>
          <p data-testid="carets">{t.carets.map((c) => `${c.name ?? c.uid}@${c.head}`).join(' ')}</p>
        </div>
      );
    }
    const el = mount(
      <FlowsyncProvider client={client}>
        <Prompt />
      </FlowsyncProvider>,
    );
    const box = el.querySelector('textarea')!;
    const value = () => el.querySelector('[data-testid="value"]')!.textContent;
    expect(box.value).toBe('hello');
    expect(value()).toBe('hello');

    remote('text-insert', 'text', { blockId: 't', subblockId: 'prompt', index: 5, text: ' world' });
    expect(value()).toBe('hello world');
    expect(box.value).toBe('hello world');

    // Typing in the textarea edits the text.
    act(() => {
      box.focus();
      box.value = 'hello, world';
      box.setSelectionRange(6, 6);
      box.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(value()).toBe('hello, world');
    expect(client.view().blocks.t.subBlocks.prompt.value).toBe('hello, world');

    // Bob's caret, anchored after "hello", resolves in our copy.
    const after = client.text('t', 'prompt').anchor(5);
    act(() =>
      ws.deliver({ type: FrameType.PresenceUpdate, workflowId: 'wf', sessionId: 's2', userId: 'bob', name: 'Bob', cursor: null, caret: { id: 't', sub: 'prompt', anchor: { replica: after.after.replica, counter: after.after.counter }, head: null } }),
    );
    act(() =>
      ws.deliver({ type: FrameType.Roster, workflowId: 'wf', entries: [{ sessionId: 's2', userId: 'bob', name: 'Bob', role: 'write', joinedAtMs: 1, lastActivityMs: 1, cursor: null, caret: { id: 't', sub: 'prompt', anchor: { replica: after.after.replica, counter: after.after.counter }, head: null } }] }),
    );
    expect(el.querySelector('[data-testid="carets"]')!.textContent).toBe('Bob@5');
    expect(renders).toBeGreaterThan(1);
  });
});
