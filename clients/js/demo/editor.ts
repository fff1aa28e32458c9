// The demo editor's canvas: blocks (HTML, absolutely positioned), edges
// (SVG), live cursors and drags of the other sessions. Everything shown is
// derived from client.view() and client.roster(); user input becomes
// reference wire operations through client.applyWire, and live, unstored
// state (pointer, selection, drag frames) goes through setPresence / drag.
// Each prompt is a collaborative text (client.text + bindTextarea): typing
// merges character by character, and the other sessions' carets show in it.

import { bindTextarea, type RemoteCaret, type TextHandle } from '../src/index';
import { randomId } from './config';
import { historyKey } from './shortcuts';

export interface Point {
  x: number;
  y: number;
}

/** The parts of the SDK's View the editor reads. */
export interface ViewLike {
  blocks: Record<string, BlockLike>;
  edges: EdgeLike[];
  /** The paint order: every replica stacks overlapping blocks the same way. */
  order: string[];
}
export interface BlockLike {
  id: string;
  type: string;
  name: string;
  position: Point;
  subBlocks: Record<string, { value: unknown } | undefined>;
  locked?: boolean;
}
export interface EdgeLike {
  id: string;
  source: string;
  target: string;
}
export interface RosterLike {
  sid: string;
  uid: string;
  name?: string;
  role?: string;
  cur?: Point | null;
  sel?: { t: string; id?: string } | null;
}
export type Selection = { t: 'block' | 'edge'; id: string } | { t: 'none' };

/** What the editor needs from a FlowsyncClient (structurally). */
export interface EditorClient {
  readonly sessionId: string;
  view(): ViewLike;
  roster(): RosterLike[];
  applyWire(name: string, target: string, payload: Record<string, unknown>): unknown;
  setPresence(p: { cursor: Point | null; selection: { t: 'block' | 'edge' | 'none'; id?: string } }): void;
  drag(pos: Record<string, Point>): void;
  undo(): unknown;
  redo(): unknown;
  stopCapturing(): void;
  text(blockId: string, subBlockId: string): TextHandle;
}

export const BLOCK_W = 220;
export const BLOCK_H = 132;
/** The text sub-block every demo block has. */
export const PROMPT = 'prompt';
const REMOTE_DRAG_TTL_MS = 1000;

const SVG = 'http://www.w3.org/2000/svg';

interface BlockEls {
  root: HTMLDivElement;
  name: HTMLSpanElement;
  prompt: HTMLTextAreaElement;
  /** Unbinds the prompt from its text and closes the handle. */
  close: () => void;
}

export class Editor {
  private readonly world: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly blocksLayer: HTMLElement;
  private readonly cursorsLayer: HTMLElement;
  private readonly blockEls = new Map<string, BlockEls>();
  private readonly edgeEls = new Map<string, SVGGElement>();
  private readonly cursorEls = new Map<string, HTMLDivElement>();
  private view: ViewLike = { blocks: {}, edges: [], order: [] };
  /** The paint order the block elements are in (DOM order decides who is on top). */
  private paintedOrder = '';
  private selection: Selection = { t: 'none' };
  /** this window's drag in progress: block id → position (not in the view until drop) */
  private localDrag: { id: string; start: Point; pointer: Point; pos: Point; moved: boolean } | null = null;
  /** other sessions' live drags: block id → position, until the frames stop */
  private readonly remoteDrag = new Map<string, { pos: Point; until: number }>();
  private pendingEdge: { source: string; path: SVGPathElement } | null = null;
  private cursor: Point | null = null;
  private renderQueued = false;
  private viewStale = true;

  constructor(
    canvas: HTMLElement,
    private readonly client: EditorClient,
    private readonly onError: (message: string) => void,
  ) {
    this.world = canvas.querySelector<HTMLElement>('.world')!;
    this.svg = canvas.querySelector<SVGSVGElement>('svg.edges')!;
    this.blocksLayer = canvas.querySelector<HTMLElement>('.blocks')!;
    this.cursorsLayer = canvas.querySelector<HTMLElement>('.cursors')!;

    canvas.addEventListener('pointermove', (e) => {
      this.cursor = this.toWorld(e);
      this.sendPresence();
    });
    canvas.addEventListener('pointerleave', () => {
      this.cursor = null;
      this.sendPresence();
    });
    canvas.addEventListener('pointerdown', (e) => {
      // A click on empty canvas clears the selection.
      if (e.target === canvas || e.target === this.world || e.target === this.svg) this.select({ t: 'none' });
    });
    document.addEventListener('keydown', (e) => this.onKey(e));
  }

  /**
   * render redraws after a roster, presence or drag event; changed() after
   * the document changed. Both coalesce to one pass per task, and the view
   * is only rebuilt when the document changed.
   */
  render(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this.renderNow();
    });
  }

  changed(): void {
    this.viewStale = true;
    this.render();
  }

  /** onRemoteDrag shows another session's live drag frames. */
  onRemoteDrag(pos: Record<string, Point>): void {
    const until = Date.now() + REMOTE_DRAG_TTL_MS;
    for (const [id, p] of Object.entries(pos)) this.remoteDrag.set(id, { pos: { x: p.x, y: p.y }, until });
    this.render();
    setTimeout(() => this.render(), REMOTE_DRAG_TTL_MS + 10);
  }

  /** addBlock adds an agent block with an empty prompt at a free spot and selects it. */
  addBlock(): string | null {
    const id = 'b-' + randomId(6);
    const taken = new Set(Object.values(this.view.blocks).map((b) => b.name.trim().toLowerCase()));
    let n = 1;
    while (taken.has(`agent ${n}`)) n++;
    const position = this.freeSlot();
    const ok = this.apply('add', 'block', {
      id,
      type: 'agent',
      name: `Agent ${n}`,
      position,
      subBlocks: { [PROMPT]: { id: PROMPT, type: 'long-input', value: '' } },
    });
    if (!ok) return null;
    this.select({ t: 'block', id });
    return id;
  }

  /** freeSlot is the first cell of a 4-wide grid that no block overlaps. */
  private freeSlot(): Point {
    const blocks = Object.values(this.view.blocks);
    for (let i = 0; ; i++) {
      const p = { x: 40 + (i % 4) * (BLOCK_W + 60), y: 40 + Math.floor(i / 4) * (BLOCK_H + 60) };
      const taken = blocks.some((b) => Math.abs(b.position.x - p.x) < BLOCK_W && Math.abs(b.position.y - p.y) < BLOCK_H);
      if (!taken) return p;
    }
  }

  // Every command of the editor (add, delete, connect, drop) is one undo
  // step of its own: the SDK groups edits less than 500 ms apart, and a
  // block deleted right after typing into it (or right after its add) must
  // not join them (an entry that adds and removes a block undoes to nothing).
  private apply(name: string, target: string, payload: Record<string, unknown>): boolean {
    try {
      this.client.stopCapturing();
      this.client.applyWire(name, target, payload);
      this.client.stopCapturing();
      return true;
    } catch (err) {
      this.onError(`${target} ${name} not applied: ${err instanceof Error ? err.message.replace(/^flowsync: /, '') : String(err)}`);
      this.changed(); // e.g. put back a textarea whose input was refused
      return false;
    }
  }

  private select(sel: Selection): void {
    this.selection = sel;
    this.sendPresence();
    this.render();
  }

  /** history undoes or redoes this window's own last edit (the toolbar and the shortcuts). */
  history(what: 'undo' | 'redo'): void {
    try {
      if (what === 'undo') this.client.undo();
      else this.client.redo();
    } catch (err) {
      this.onError(`${what} not applied: ${err instanceof Error ? err.message.replace(/^flowsync: /, '') : String(err)}`);
    }
  }

  private onKey(e: KeyboardEvent): void {
    const what = historyKey(e);
    if (what !== null) {
      e.preventDefault();
      this.history(what);
      return;
    }
    if (e.key !== 'Delete' && e.key !== 'Backspace') return;
    const el = e.target as HTMLElement | null;
    if (el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT' || el.isContentEditable)) return;
    const sel = this.selection;
    if (sel.t === 'edge') {
      e.preventDefault();
      this.apply('remove', 'edge', { id: sel.id });
      this.select({ t: 'none' });
    } else if (sel.t === 'block') {
      e.preventDefault();
      this.apply('remove', 'block', { id: sel.id });
      this.select({ t: 'none' });
    }
  }

  // --- presence and drag frames (the client throttles them to about 30/s, latest wins)

  // Both throw only once the client is closed (the page is going away, or the
  // workflow was deleted): then there is nobody left to tell.

  private sendPresence(): void {
    const s = this.selection;
    try {
      this.client.setPresence({ cursor: this.cursor, selection: s.t === 'none' ? { t: 'none' } : { t: s.t, id: s.id } });
    } catch {
      // closed
    }
  }

  private sendDrag(): void {
    const d = this.localDrag;
    if (!d) return;
    try {
      this.client.drag({ [d.id]: d.pos });
    } catch {
      // closed
    }
  }

  // --- rendering

  private renderNow(): void {
    if (this.viewStale) {
      this.view = this.client.view();
      this.viewStale = false;
    }
    const now = Date.now();
    for (const [id, d] of this.remoteDrag) if (d.until <= now || !this.view.blocks[id]) this.remoteDrag.delete(id);
    if (this.selection.t === 'block' && !this.view.blocks[this.selection.id]) this.select({ t: 'none' });
    if (this.selection.t === 'edge' && !this.view.edges.some((e) => e.id === (this.selection as { id: string }).id)) {
      this.select({ t: 'none' });
    }
    const roster = this.client.roster();
    const others = roster.filter((r) => r.sid !== this.client.sessionId);
    const remoteSel = new Map<string, string>();
    for (const r of others) if (r.sel && r.sel.t !== 'none' && r.sel.id) remoteSel.set(r.sel.id, colorOf(r.sid));

    let maxX = 0;
    let maxY = 0;
    const seen = new Set<string>();
    for (const id of this.view.order) {
      const b = this.view.blocks[id];
      seen.add(b.id);
      const els = this.blockEls.get(b.id) ?? this.createBlock(b.id);
      const p = this.positionOf(b);
      els.root.style.transform = `translate(${p.x}px, ${p.y}px)`;
      els.root.dataset.x = String(Math.round(b.position.x));
      els.root.dataset.y = String(Math.round(b.position.y));
      if (els.name.textContent !== b.name) els.name.textContent = b.name;
      els.root.classList.toggle('selected', this.selection.t === 'block' && this.selection.id === b.id);
      els.root.classList.toggle('dragging', this.localDrag?.id === b.id || this.remoteDrag.has(b.id));
      els.root.classList.toggle('locked', b.locked === true);
      const rc = remoteSel.get(b.id);
      if (rc) els.root.style.setProperty('--remote', rc);
      else els.root.style.removeProperty('--remote');
      els.root.classList.toggle('remote-selected', rc !== undefined);
      maxX = Math.max(maxX, p.x + BLOCK_W);
      maxY = Math.max(maxY, p.y + BLOCK_H);
    }
    for (const [id, els] of this.blockEls) {
      if (!seen.has(id)) {
        els.close();
        els.root.remove();
        this.blockEls.delete(id);
      }
    }
    // Stack blocks in the view's paint order. Moving elements only when the
    // order changed keeps a drag's pointer capture (a moved element loses it).
    const orderKey = this.view.order.join('\u0000');
    if (orderKey !== this.paintedOrder) {
      this.paintedOrder = orderKey;
      for (const id of this.view.order) this.blocksLayer.append(this.blockEls.get(id)!.root);
    }

    const seenEdges = new Set<string>();
    for (const e of this.view.edges) {
      const s = this.view.blocks[e.source];
      const t = this.view.blocks[e.target];
      if (!s || !t) continue;
      seenEdges.add(e.id);
      const g = this.edgeEls.get(e.id) ?? this.createEdge(e);
      const d = curve(sourceHandle(this.positionOf(s)), targetHandle(this.positionOf(t)));
      for (const path of g.querySelectorAll('path')) path.setAttribute('d', d);
      g.classList.toggle('selected', this.selection.t === 'edge' && this.selection.id === e.id);
      const rc = remoteSel.get(e.id);
      g.classList.toggle('remote-selected', rc !== undefined);
      if (rc) g.style.setProperty('--remote', rc);
      else g.style.removeProperty('--remote');
    }
    for (const [id, g] of this.edgeEls) {
      if (!seenEdges.has(id)) {
        g.remove();
        this.edgeEls.delete(id);
      }
    }

    const seenCursors = new Set<string>();
    for (const r of others) {
      if (!r.cur) continue;
      seenCursors.add(r.sid);
      let el = this.cursorEls.get(r.sid);
      if (!el) {
        el = document.createElement('div');
        el.className = 'cursor';
        el.dataset.testid = 'cursor';
        el.dataset.sid = r.sid;
        el.style.setProperty('--c', colorOf(r.sid));
        el.innerHTML = '<svg viewBox="0 0 16 16" width="16" height="16"><path d="M1 1 L1 13 L4.5 9.5 L7 15 L9 14 L6.5 8.5 L11.5 8.5 Z"/></svg><span class="label"></span>';
        this.cursorsLayer.append(el);
        this.cursorEls.set(r.sid, el);
      }
      el.dataset.uid = r.uid;
      const label = el.querySelector('.label')!;
      const name = r.name || r.uid;
      if (label.textContent !== name) label.textContent = name;
      el.style.transform = `translate(${r.cur.x}px, ${r.cur.y}px)`;
      maxX = Math.max(maxX, r.cur.x);
      maxY = Math.max(maxY, r.cur.y);
    }
    for (const [sid, el] of this.cursorEls) {
      if (!seenCursors.has(sid)) {
        el.remove();
        this.cursorEls.delete(sid);
      }
    }

    // The world grows with its content; the canvas scrolls.
    this.world.style.width = `${Math.max(1600, maxX + 400)}px`;
    this.world.style.height = `${Math.max(1000, maxY + 400)}px`;
  }

  private positionOf(b: BlockLike): Point {
    if (this.localDrag?.id === b.id) return this.localDrag.pos;
    return this.remoteDrag.get(b.id)?.pos ?? b.position;
  }

  private createBlock(id: string): BlockEls {
    const root = document.createElement('div');
    root.className = 'block';
    root.dataset.testid = 'block';
    root.dataset.blockId = id;
    root.innerHTML =
      '<div class="block-head" data-testid="block-head"><span class="block-name" data-testid="block-name"></span>' +
      '<button type="button" class="block-delete" data-testid="block-delete" title="Remove block" aria-label="Remove block">×</button></div>' +
      '<div class="prompt-box"><textarea class="prompt" data-testid="block-prompt" placeholder="Prompt…" spellcheck="false"></textarea>' +
      '<div class="prompt prompt-carets" aria-hidden="true"></div></div>' +
      '<div class="handle target" data-testid="handle-target" title="Drop a connection here"></div>' +
      '<div class="handle source" data-testid="handle-source" title="Drag to another block to connect"></div>';
    const head = root.querySelector<HTMLDivElement>('.block-head')!;
    const name = root.querySelector<HTMLSpanElement>('.block-name')!;
    const prompt = root.querySelector<HTMLTextAreaElement>('textarea')!;
    const caretsEl = root.querySelector<HTMLDivElement>('.prompt-carets')!;
    const del = root.querySelector<HTMLButtonElement>('.block-delete')!;
    const source = root.querySelector<HTMLDivElement>('.handle.source')!;

    root.addEventListener('pointerdown', (e) => {
      if (e.target !== source) this.select({ t: 'block', id });
    });
    del.addEventListener('pointerdown', (e) => e.stopPropagation());
    del.addEventListener('click', () => this.apply('remove', 'block', { id }));

    // Dragging by the title: live frames while moving, one update-position on drop.
    head.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || e.target === del) return;
      const b = this.view.blocks[id];
      if (!b) return;
      e.preventDefault();
      head.setPointerCapture(e.pointerId);
      this.localDrag = { id, start: { ...b.position }, pointer: { x: e.clientX, y: e.clientY }, pos: { ...b.position }, moved: false };
    });
    head.addEventListener('pointermove', (e) => {
      const d = this.localDrag;
      if (!d || d.id !== id) return;
      const dx = e.clientX - d.pointer.x;
      const dy = e.clientY - d.pointer.y;
      if (!d.moved && Math.abs(dx) + Math.abs(dy) < 3) return;
      d.moved = true;
      d.pos = { x: Math.max(0, Math.round(d.start.x + dx)), y: Math.max(0, Math.round(d.start.y + dy)) };
      this.sendDrag();
      this.render();
    });
    const drop = (commit: boolean) => {
      const d = this.localDrag;
      if (!d || d.id !== id) return;
      this.localDrag = null;
      if (commit && d.moved) this.apply('update-position', 'block', { id, position: d.pos });
      this.render();
    };
    head.addEventListener('pointerup', () => drop(true));
    head.addEventListener('pointercancel', () => drop(false));

    // Typing: the prompt is a text; each input is the smallest edit, merged
    // character by character with everyone else's typing.
    const handle = this.client.text(id, PROMPT);
    const unbind = bindTextarea(handle, prompt, (err) => {
      this.onError(`prompt not edited: ${err instanceof Error ? err.message.replace(/^(flowsync|workflow): /, '') : String(err)}`);
    });
    const paint = (cs: RemoteCaret[]) => paintCarets(caretsEl, handle.toString(), cs, prompt.scrollTop);
    handle.onCarets(paint);
    handle.onChange(() => paint(handle.remoteCarets()));
    prompt.addEventListener('scroll', () => (caretsEl.scrollTop = prompt.scrollTop));
    paint(handle.remoteCarets());

    // Connecting: drag from the source handle, drop on another block.
    source.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      e.stopPropagation();
      source.setPointerCapture(e.pointerId);
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('class', 'edge-pending');
      path.dataset.testid = 'edge-pending';
      this.svg.append(path);
      this.pendingEdge = { source: id, path };
    });
    source.addEventListener('pointermove', (e) => {
      const pe = this.pendingEdge;
      const b = this.view.blocks[id];
      if (!pe || pe.source !== id || !b) return;
      pe.path.setAttribute('d', curve(sourceHandle(this.positionOf(b)), this.toWorld(e)));
    });
    const endConnect = (e: PointerEvent, commit: boolean) => {
      const pe = this.pendingEdge;
      if (!pe || pe.source !== id) return;
      this.pendingEdge = null;
      pe.path.remove();
      if (!commit) return;
      const under = document.elementFromPoint(e.clientX, e.clientY);
      const targetEl = under?.closest<HTMLElement>('.block');
      const target = targetEl?.dataset.blockId;
      if (!target || target === id) return;
      if (this.view.edges.some((x) => x.source === id && x.target === target)) return;
      const edgeId = 'e-' + randomId(6);
      if (this.apply('add', 'edge', { id: edgeId, source: id, target, sourceHandle: 'source', targetHandle: 'target' })) {
        this.select({ t: 'edge', id: edgeId });
      }
    };
    source.addEventListener('pointerup', (e) => endConnect(e, true));
    source.addEventListener('pointercancel', (e) => endConnect(e, false));

    this.blocksLayer.append(root);
    const els = {
      root,
      name,
      prompt,
      close: () => {
        unbind();
        handle.close();
      },
    };
    this.blockEls.set(id, els);
    return els;
  }

  private createEdge(e: EdgeLike): SVGGElement {
    const g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', 'edge');
    g.dataset.testid = 'edge';
    g.dataset.edgeId = e.id;
    g.dataset.source = e.source;
    g.dataset.target = e.target;
    const hit = document.createElementNS(SVG, 'path');
    hit.setAttribute('class', 'edge-hit');
    const line = document.createElementNS(SVG, 'path');
    line.setAttribute('class', 'edge-line');
    g.append(hit, line);
    g.addEventListener('pointerdown', (ev) => {
      ev.stopPropagation();
      this.select({ t: 'edge', id: e.id });
    });
    this.svg.append(g);
    this.edgeEls.set(e.id, g);
    return g;
  }

  private toWorld(e: { clientX: number; clientY: number }): Point {
    const r = this.world.getBoundingClientRect();
    return { x: Math.round(e.clientX - r.left), y: Math.round(e.clientY - r.top) };
  }
}

export function sourceHandle(p: Point): Point {
  return { x: p.x + BLOCK_W, y: p.y + BLOCK_H / 2 };
}

export function targetHandle(p: Point): Point {
  return { x: p.x, y: p.y + BLOCK_H / 2 };
}

function curve(a: Point, b: Point): string {
  const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
  return `M ${a.x} ${a.y} C ${a.x + dx} ${a.y}, ${b.x - dx} ${b.y}, ${b.x} ${b.y}`;
}

/**
 * paintCarets draws the other sessions' carets and selections over a
 * prompt: a mirror of the textarea (same box, font and wrapping, text
 * transparent) with a colored bar at each caret and a tint over each
 * selected range.
 */
function paintCarets(el: HTMLDivElement, value: string, carets: RemoteCaret[], scrollTop: number): void {
  el.textContent = '';
  const cuts = new Set<number>([0, value.length]);
  for (const c of carets) {
    cuts.add(Math.min(c.anchor, value.length));
    cuts.add(Math.min(c.head, value.length));
  }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i < points.length; i++) {
    const at = points[i];
    for (const c of carets) {
      if (Math.min(c.head, value.length) !== at) continue;
      const bar = document.createElement('span');
      bar.className = 'rcaret';
      bar.dataset.testid = 'remote-caret';
      bar.dataset.sid = c.sid;
      bar.dataset.uid = c.uid;
      bar.dataset.at = String(at);
      bar.style.setProperty('--c', colorOf(c.sid));
      const label = document.createElement('span');
      label.className = 'rcaret-label';
      label.textContent = c.name || c.uid;
      bar.append(label);
      el.append(bar);
    }
    const next = points[i + 1];
    if (next === undefined) break;
    const seg = document.createElement('span');
    seg.textContent = value.slice(at, next);
    const inside = carets.find((c) => Math.min(c.anchor, c.head) <= at && next <= Math.max(c.anchor, c.head));
    if (inside) {
      seg.className = 'rsel';
      seg.style.setProperty('--c', colorOf(inside.sid));
    }
    el.append(seg);
  }
  el.scrollTop = scrollTop;
}

/** colorOf gives each session a stable hue. */
export function colorOf(sid: string): string {
  let h = 0;
  for (let i = 0; i < sid.length; i++) h = (h * 31 + sid.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 70% 45%)`;
}
