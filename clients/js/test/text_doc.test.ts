// Texts inside the workflow document (TypeScript replica): concurrent
// typing into one prompt merges character-wise in any order, whole-value
// writes become splices, and the encoding carries the records.
import { describe, expect, it } from 'vitest';
import { Clock, type Timestamp } from '../src/crdt/hlc';
import { apply, type Op } from '../src/workflow/builder';
import { Doc } from '../src/workflow/doc';
import { decode } from '../src/workflow/encode';
import { asString } from '../src/workflow/fields';
import { BatchAddBlocks } from '../src/workflow/ops_blocks';
import { SubBlockBatchUpdate, UpdateSubBlock } from '../src/workflow/ops_subblock';
import { DeleteText, InsertText } from '../src/workflow/ops_text';
import { RemoveBlock } from '../src/workflow/ops_block';
import { subBlockKey } from '../src/workflow/state';
import { buildView } from '../src/workflow/view';

class Replica {
  readonly d: Doc;
  private readonly clock: Clock;
  private wall = 1_000;
  constructor(id: string, from?: Doc) {
    this.clock = new Clock(id);
    this.d = from ? decode(from.encode()) : new Doc();
  }
  now(): Timestamp {
    this.wall += 10;
    return this.clock.now(this.wall);
  }
  ok(op: Op): Doc {
    return apply(this.d, this.now(), op);
  }
  prompt(): string {
    return asString(this.d.get(subBlockKey('b1', 'prompt')));
  }
}

const addAgent = new BatchAddBlocks({
  blocks: [{ id: 'b1', type: 'agent', name: 'Agent 1', subBlocks: { prompt: { id: 'prompt', type: 'long-input', value: null } } }],
});

describe('texts in the workflow document', () => {
  it('a new text sub-block is an empty text; inserts and deletes by code point', () => {
    const a = new Replica('ra');
    a.ok(addAgent);
    expect(a.prompt()).toBe('');
    a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 0, text: 'héllo 🌍!' }));
    a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 7, text: ' world' }));
    expect(a.prompt()).toBe('héllo 🌍 world!');
    a.ok(new DeleteText({ blockId: 'b1', subBlockId: 'prompt', index: 6, length: 2 }));
    expect(a.prompt()).toBe('héllo world!');
    expect(buildView(a.d).blocks.b1.subBlocks.prompt.value).toBe('héllo world!');
    const back = decode(a.d.encode());
    expect(back.equal(a.d)).toBe(true);
    expect(back.encode()).toEqual(a.d.encode());
  });

  it('two replicas typing at one spot keep their words whole, in either merge order', () => {
    const a = new Replica('ra');
    a.ok(addAgent);
    a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 0, text: '[]' }));
    const b = new Replica('rb', a.d);
    const da: Doc[] = [];
    const db: Doc[] = [];
    for (const ch of 'alice writes') da.push(a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: a.prompt().length - 1, text: ch })));
    for (const ch of 'BOB TYPES') db.push(b.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: b.prompt().length - 1, text: ch })));
    for (const d of db) a.d.merge(decode(d.encode()));
    for (const d of [...da].reverse()) b.d.merge(decode(d.encode()));
    expect(a.prompt()).toBe(b.prompt());
    expect(a.prompt()).toMatch(/^\[(alice writesBOB TYPES|BOB TYPESalice writes)\]$/);
    expect(a.d.encode()).toEqual(b.d.encode());
  });

  it('a whole-value write is the smallest splice: concurrent typing elsewhere survives', () => {
    const a = new Replica('ra');
    a.ok(addAgent);
    a.ok(new UpdateSubBlock({ blockId: 'b1', subBlockId: 'prompt', value: 'one two three' }));
    const b = new Replica('rb', a.d);
    const fromA = a.ok(new UpdateSubBlock({ blockId: 'b1', subBlockId: 'prompt', value: 'one 2 three' }));
    const fromB = b.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 13, text: ' four' }));
    a.d.merge(fromB);
    b.d.merge(fromA);
    expect(a.prompt()).toBe('one 2 three four');
    expect(b.prompt()).toBe('one 2 three four');
  });

  it('removing the block drops its text everywhere; a late edit of it is dropped too', () => {
    const a = new Replica('ra');
    a.ok(addAgent);
    a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 0, text: 'x' }));
    const b = new Replica('rb', a.d);
    const late = b.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 1, text: 'yz' }));
    a.ok(new RemoveBlock({ id: 'b1' }));
    a.d.merge(late);
    expect(a.d.texts().size).toBe(0);
    expect(a.d.encode()[1]).toBe(0x93); // three top-level elements: no texts
  });

  it('chunks carry the records after the values; their join is the document', () => {
    const a = new Replica('ra');
    a.ok(addAgent);
    for (let i = 0; i < 50; i++) a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: i % 7, text: `w${i} ` }));
    const chunks = a.d.encodeChunks(256);
    expect(chunks.length).toBeGreaterThan(1);
    const j = new Doc();
    for (const c of [...chunks].reverse()) j.merge(decode(c));
    expect(j.encode()).toEqual(a.d.encode());
  });
});

describe('remint with texts', () => {
  it('renames the records, items, origins and deleted dots of unsent typing, and the renamed document converges with the text', async () => {
    const { remint } = await import('../src/workflow/remint');
    const { Context } = await import('../src/crdt/context');
    const a = new Replica('ra');
    a.ok(addAgent);
    a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 0, text: 'hello world' }));
    a.ok(new DeleteText({ blockId: 'b1', subBlockId: 'prompt', index: 5, length: 1 }));
    const which = new Context();
    for (const rg of a.d.context().ranges('ra')) which.addRange('ra', rg);
    const r = remint(a.d, 'ra', 'rz', which, 1);
    expect(r.context().ranges('ra')).toEqual([]);
    expect(asString(r.get(subBlockKey('b1', 'prompt')))).toBe('helloworld');
    for (const { id, rec } of r.texts().entries()) {
      expect(id.replica).toBe('rz');
      expect(rec.t.context().replicas()).toEqual(['rz']);
    }
    // The reminted document encodes, decodes and accepts more typing by rz.
    const back = decode(r.encode());
    expect(back.equal(r)).toBe(true);
  });
});

describe('a whole-string update naming the string it edited', () => {
  it('is rebased past concurrent typing elsewhere, and fails the precondition where it overlaps', () => {
    const a = new Replica('ra');
    a.ok(addAgent);
    a.ok(new UpdateSubBlock({ blockId: 'b1', subBlockId: 'prompt', value: 'one two three' }));
    // Someone typed at the start since the thin client read "one two three".
    a.ok(new InsertText({ blockId: 'b1', subBlockId: 'prompt', index: 0, text: '>> ' }));
    a.ok(new SubBlockBatchUpdate({ updates: [{ blockId: 'b1', subBlockId: 'prompt', value: 'one two three four', expectedValue: 'one two three', hasExpected: true }] }));
    expect(a.prompt()).toBe('>> one two three four');
    let code = '';
    try {
      a.ok(new SubBlockBatchUpdate({ updates: [{ blockId: 'b1', subBlockId: 'prompt', value: 'X two three', expectedValue: 'one two three', hasExpected: true }] }));
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('Precondition');
    expect(a.prompt()).toBe('>> one two three four');
  });
});
