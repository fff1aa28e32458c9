// TextHandle and bindTextarea over a fake client: two replicas of one
// workflow exchange deltas by hand, as a server would relay them.
import { describe, expect, it } from 'vitest';
import { Clock } from '../src/crdt/hlc';
import { apply, type Op } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { decode } from '../src/workflow/encode';
import { BatchAddBlocks } from '../src/workflow/ops_blocks';
import { Emitter, type PresenceCaret, type RosterEntry } from '../src/client/events';
import { TextHandle, type TextChangeEvent, type TextHost } from '../src/client/text';
import { bindTextarea, type TextareaLike } from '../src/client/text_binding';

class FakeClient implements TextHost {
  readonly doc: Doc;
  readonly sent: Uint8Array[] = [];
  caret: PresenceCaret | null = null;
  rosterEntries: RosterEntry[] = [];
  private readonly events = new Emitter();
  private readonly clock: Clock;
  private wall = 1_000;
  constructor(
    readonly sessionId: string,
    from?: Doc,
  ) {
    this.clock = new Clock(`rep-${sessionId}`);
    this.doc = from ? decode(from.encode()) : new Doc();
  }
  apply(op: Op): Doc {
    this.wall += 10;
    const d = apply(this.doc, this.clock.now(this.wall), op);
    this.sent.push(d.encode());
    this.events.emit('change', d, false);
    return d;
  }
  receive(bytes: Uint8Array): void {
    const d = decode(bytes);
    this.doc.merge(d);
    this.events.emit('change', d, true);
  }
  /** Delivers every delta this client sent since the last call to other. */
  flushTo(other: FakeClient): void {
    for (const b of this.sent.splice(0)) other.receive(b);
  }
  roster(): RosterEntry[] {
    return this.rosterEntries;
  }
  setPresence(p: { caret?: PresenceCaret | null }): void {
    if (p.caret !== undefined) this.caret = p.caret;
  }
  showCaretOf(o: FakeClient): void {
    this.rosterEntries = [{ sid: o.sessionId, uid: `u-${o.sessionId}`, name: o.sessionId, role: 'write', joined: 0, active: 0, ...(o.caret ? { caret: o.caret } : {}) }];
    this.events.emit('roster', this.rosterEntries);
  }
  on: TextHost['on'] = (event, fn) => this.events.on(event, fn);
}

class FakeTextarea implements TextareaLike {
  private v = '';
  /** Setting the value puts the caret at the end, as browsers do. */
  get value(): string {
    return this.v;
  }
  set value(s: string) {
    this.v = s;
    this.selectionStart = this.selectionEnd = s.length;
  }
  selectionStart = 0;
  selectionEnd = 0;
  selectionDirection = 'forward';
  private readonly fns = new Map<string, Set<() => void>>();
  ownerDocument = { activeElement: this as unknown, addEventListener: () => {}, removeEventListener: () => {} };
  setSelectionRange(start: number, end: number): void {
    this.selectionStart = start;
    this.selectionEnd = end;
  }
  addEventListener(type: string, fn: () => void): void {
    if (!this.fns.has(type)) this.fns.set(type, new Set());
    this.fns.get(type)!.add(fn);
  }
  removeEventListener(type: string, fn: () => void): void {
    this.fns.get(type)?.delete(fn);
  }
  /** Types s at the caret, as a browser does, and fires input. */
  type(s: string): void {
    const at = this.selectionStart;
    this.v = this.v.slice(0, at) + s + this.v.slice(this.selectionEnd);
    this.selectionStart = this.selectionEnd = at + s.length;
    for (const fn of this.fns.get('input') ?? []) fn();
  }
  backspace(): void {
    const at = this.selectionStart;
    const cut = this.value.codePointAt(at - 2)! > 0xffff ? 2 : 1;
    this.v = this.v.slice(0, at - cut) + this.v.slice(at);
    this.selectionStart = this.selectionEnd = at - cut;
    for (const fn of this.fns.get('input') ?? []) fn();
  }
  /** The window loses the focus: the element gets blur but stays the active element. */
  windowBlur(): void {
    for (const fn of this.fns.get('blur') ?? []) fn();
  }
  click(at: number): void {
    this.selectionStart = this.selectionEnd = at;
    for (const fn of this.fns.get('mouseup') ?? []) fn();
  }
}

function twoClients(): [FakeClient, FakeClient] {
  const a = new FakeClient('a');
  a.apply(new BatchAddBlocks({ blocks: [{ id: 'b1', type: 'agent', name: 'Agent 1', subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: 'Hi 👋 there' } } }] }));
  a.sent.length = 0;
  return [a, new FakeClient('b', a.doc)];
}

describe('TextHandle', () => {
  it('edits in UTF-16 offsets and reports index deltas that rebuild the value', () => {
    const [a, b] = twoClients();
    const ha = new TextHandle(a, { blockId: 'b1', subBlockId: 'prompt' });
    const hb = new TextHandle(b, { blockId: 'b1', subBlockId: 'prompt' });
    expect(ha.toString()).toBe('Hi 👋 there');
    expect(ha.length).toBe(11);
    const seen: TextChangeEvent[] = [];
    let shown = hb.toString();
    hb.onChange((ev) => {
      seen.push(ev);
      for (const d of ev.deltas) shown = shown.slice(0, d.index) + d.insert + shown.slice(d.index + d.delete);
    });
    ha.insert(5, ' and 🌍'); // after the emoji (a surrogate pair)
    ha.delete(3, 2); // the emoji itself
    ha.setValue('Hi and 🌍 there!');
    a.flushTo(b);
    expect(hb.toString()).toBe('Hi and 🌍 there!');
    expect(shown).toBe(hb.toString());
    expect(seen.every((e) => e.remote)).toBe(true);
    expect(() => ha.insert(99, 'x')).toThrow(/outside/);
  });

  it('anchors stay on their characters; remote carets resolve in the local copy', () => {
    const [a, b] = twoClients();
    const ha = new TextHandle(a, { blockId: 'b1', subBlockId: 'prompt' });
    const hb = new TextHandle(b, { blockId: 'b1', subBlockId: 'prompt' });
    ha.setCaret(2); // after "Hi"
    b.showCaretOf(a);
    expect(hb.remoteCarets()).toEqual([{ sid: 'a', uid: 'u-a', name: 'a', anchor: 2, head: 2 }]);
    hb.insert(0, '>> ');
    expect(hb.remoteCarets()[0].anchor).toBe(5);
    // A caret on a character b has not received yet stays where it was shown.
    ha.insert(2, '!!');
    ha.setCaret(4);
    b.showCaretOf(a);
    expect(hb.remoteCarets()[0].anchor).toBe(5);
    a.flushTo(b);
    expect(hb.toString()).toBe('>> Hi!! 👋 there');
    expect(hb.remoteCarets()[0].anchor).toBe(7);
  });
});

describe('bindTextarea', () => {
  it('two people typing at one spot at the same time each keep their words whole, and the textareas converge', () => {
    const [a, b] = twoClients();
    const ta = new FakeTextarea();
    const tb = new FakeTextarea();
    const ha = new TextHandle(a, { blockId: 'b1', subBlockId: 'prompt' });
    const hb = new TextHandle(b, { blockId: 'b1', subBlockId: 'prompt' });
    bindTextarea(ha, ta);
    bindTextarea(hb, tb);
    ta.click(2);
    tb.click(2);
    ta.windowBlur(); // two windows: only one has the focus, both keep typing
    const alice = ' alice writes this sentence.';
    const bob = ' BOB TYPES HERE TOO.';
    for (let i = 0; i < Math.max(alice.length, bob.length); i++) {
      if (i < alice.length) ta.type(alice[i]);
      if (i < bob.length) tb.type(bob[i]);
      if (i % 3 === 0) a.flushTo(b); // uneven delivery
      if (i % 4 === 1) b.flushTo(a);
    }
    tb.backspace();
    tb.type('!');
    a.flushTo(b);
    b.flushTo(a);
    expect(ta.value).toBe(tb.value);
    expect(ta.value).toBe(ha.toString());
    expect(ta.value.includes(alice)).toBe(true);
    expect(ta.value.includes(' BOB TYPES HERE TOO!')).toBe(true);
    // Each caret is still at the end of its own words.
    expect(ta.value.slice(0, ta.selectionStart).endsWith(alice)).toBe(true);
    expect(tb.value.slice(0, tb.selectionStart).endsWith(' BOB TYPES HERE TOO!')).toBe(true);
  });
});

describe('spliceAt', () => {
  it('places an ambiguous edit at the caret and never cuts a surrogate pair', async () => {
    const { spliceAt } = await import('../src/client/text');
    expect(spliceAt('a b', 'a  b', 2)).toEqual({ start: 1, del: 0, ins: ' ' });
    expect(spliceAt('a b', 'a  b', 3)).toEqual({ start: 2, del: 0, ins: ' ' });
    expect(spliceAt('a b', 'a  b')).toEqual({ start: 2, del: 0, ins: ' ' });
    expect(spliceAt('aa', 'a', 0)).toEqual({ start: 0, del: 1, ins: '' });
    expect(spliceAt('x😀y', 'x😁y', 3)).toEqual({ start: 1, del: 2, ins: '😁' });
    expect(spliceAt('😀', '😀😀', 2)).toEqual({ start: 0, del: 0, ins: '😀' });
  });
});
