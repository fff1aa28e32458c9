// Unit tests of the text replica (src/crdt/text): the worked example of
// docs/PROTOCOL.md "Text deltas", non-interleaving, anchors, admission,
// the UTF-16 helpers and convergence of randomly interleaved replicas.
// The random tests print their seed; replay one with
// TEXT_SEED=N npx vitest run test/text_unit.

import { describe, expect, it } from 'vitest';
import { admit, codePointToUtf16, decodeDelta, diffText, encodeDelta, loadState, Text, TextBinding, TextError, utf16ToCodePoint, type Delta } from '../src/crdt/text';
import { shape } from '../src/crdt/text/tree';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A fresh seed per run, printed; TEXT_SEED=N replays one. */
function textSeed(what: string): number {
  const seed = process.env.TEXT_SEED !== undefined ? Number(process.env.TEXT_SEED) : Date.now() % 1e9;
  console.log(`${what}: seed ${seed} (replay with TEXT_SEED=${seed})`);
  return seed;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TextError) return err.code;
    throw err;
  }
  return '';
}

describe('text replica', () => {
  it('writes the bytes of the PROTOCOL.md example', () => {
    const alice = new Text();
    const bob = new Text();
    bob.merge(alice.insert('alice', 0, 'hi'));
    const da = alice.insert('alice', 2, ' you');
    const db = bob.insert('bob', 2, '!!');
    alice.merge(db);
    bob.merge(da);
    bob.merge(alice.delete(1, 1));
    expect(alice.toString()).toBe('h you!!');
    expect(bob.toString()).toBe('h you!!');
    expect(hex(encodeDelta(db))).toBe('019492a5616c696365a3626f62c4054f01000002a2212190');
    const state = encodeDelta(bob.deltaSince());
    expect(hex(state)).toBe('019492a5616c696365a3626f62c40d0300000400c501004f01000002a76820796f75212190');
    expect(hex(encodeDelta(decodeDelta(state)))).toBe(hex(state));
  });

  it('keeps concurrent words whole, typed forwards and backwards', () => {
    for (const backwards of [false, true]) {
      const a = new Text();
      const b = new Text();
      const base = a.insert('a', 0, 'xy');
      b.merge(base);
      const da: Delta[] = [];
      const db: Delta[] = [];
      for (const ch of 'hello') da.push(backwards ? a.insert('a', 1, ch) : a.insert('a', a.length - 1, ch));
      for (const ch of 'WORLD') db.push(backwards ? b.insert('b', 1, ch) : b.insert('b', b.length - 1, ch));
      for (const d of db) a.merge(d);
      for (const d of da) b.merge(d);
      expect(a.toString()).toBe(b.toString());
      const s = a.toString();
      const w1 = backwards ? 'olleh' : 'hello';
      const w2 = backwards ? 'DLROW' : 'WORLD';
      expect(s.includes(w1) && s.includes(w2), s).toBe(true);
    }
  });

  it('counts code points, not UTF-16 units', () => {
    const t = new Text();
    t.insert('a', 0, 'a😀b');
    expect(t.length).toBe(3);
    t.insert('a', 2, 'é');
    expect(t.toString()).toBe('a😀éb');
    t.delete(1, 1);
    expect(t.toString()).toBe('aéb');
    expect(code(() => t.insert('a', 0, '\ud800'))).toBe('InvalidUTF8');
    expect(code(() => t.delete(2, 5))).toBe('Range');
  });

  it('plans inserts and deletes without changing the text, and inserts at a given dot', () => {
    const a = new Text();
    a.insert('a', 0, 'hello world');
    const b = new Text();
    b.merge(a.deltaSince());
    for (const [k, [pos, s]] of ([[0, 'X'], [5, ','], [13, '!'], [3, '😀']] as [number, string][]).entries()) {
      const before = hex(encodeDelta(a.deltaSince()));
      const plan = a.planInsert({ replica: 'doc', counter: 40 + 10 * k }, pos, s);
      expect(hex(encodeDelta(a.deltaSince()))).toBe(before);
      const done = b.insertAt({ replica: 'doc', counter: 40 + 10 * k }, pos, s);
      expect(hex(encodeDelta(plan))).toBe(hex(encodeDelta(done)));
      a.merge(plan);
      expect(a.toString()).toBe(b.toString());
    }
    expect(code(() => b.insertAt({ replica: 'doc', counter: 61 }, 0, 'y'))).toBe('Counter');
    expect(a.knows('doc', 40, 40) && a.knows('a', 1, 11) && !a.knows('doc', 40, 41)).toBe(true);
    expect(a.knowsAny('doc', 41, 50) && !a.knowsAny('doc', 1, 39)).toBe(true);
    const before = a.toString();
    const pd = a.planDelete(2, 6);
    expect(a.toString()).toBe(before);
    expect(hex(encodeDelta(pd))).toBe(hex(encodeDelta(b.delete(2, 6))));
    a.merge(pd);
    expect(a.toString()).toBe(b.toString());
  });

  it('converts UTF-16 offsets', () => {
    const s = 'a😀b';
    expect(utf16ToCodePoint(s, 3)).toBe(2);
    expect(codePointToUtf16(s, 2)).toBe(3);
    expect(diffText('a😀b', 'a😁b')).toEqual({ pos: 1, del: 1, ins: '😁' });
    expect(diffText('hello', 'help')).toEqual({ pos: 3, del: 2, ins: 'p' });
  });

  it('keeps anchors on their character', () => {
    const a = new Text();
    const b = new Text();
    b.merge(a.insert('a', 0, 'hello world'));
    const caret = b.anchor(6); // before "world"
    b.merge(a.insert('a', 0, '>> '));
    expect(b.resolve(caret)).toBe(9);
    b.merge(a.delete(3, 6)); // "hello " gone
    expect(b.toString()).toBe('>> world');
    expect(b.resolve(caret)).toBe(3);
    expect(code(() => b.resolve({ after: { replica: 'z', counter: 1 } }))).toBe('UnknownAnchor');
  });

  it('admits honest edits and refuses foreign dots, missing origins and unknown deletes', () => {
    const server = new Text();
    const alice = new Text();
    const d = alice.insert('alice', 0, 'hello');
    admit(server, d, 'alice');
    expect(code(() => admit(server, d, 'mallory'))).toBe('ForeignDot');
    const d2 = alice.insert('alice', 5, ' world');
    expect(code(() => admit(server, d2, 'alice'))).toBe('MissingOrigin');
    expect(code(() => server.merge(d2))).toBe('MissingOrigin');
    expect(code(() => admit(server, { runs: [], deleted: [{ replica: 'bob', lo: 1, hi: 2 }] }, 'alice'))).toBe('UnknownDelete');
    server.merge({ runs: [...d.runs, ...d2.runs], deleted: [] });
    const swapped: Delta = {
      runs: [{ id: { replica: 'bob', counter: 1 }, len: 1, text: 'x', left: { replica: 'alice', counter: 7 }, right: { replica: 'alice', counter: 1 } }],
      deleted: [],
    };
    expect(code(() => admit(server, swapped, 'bob'))).toBe('OriginOrder');
    expect(server.toString()).toBe('hello world');
  });

  it('converges under random concurrent edits with small tree nodes', () => {
    const seed = textSeed('text_unit');
    const saved = { ...shape };
    shape.maxSpans = 4;
    shape.maxKids = 4;
    try {
      let s = seed >>> 0;
      const rnd = (n: number) => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
      };
      for (let round = 0; round < 10; round++) {
        const names = ['a', 'b', 'c'];
        const reps = names.map(() => new Text());
        for (let step = 0; step < 60; step++) {
          const i = rnd(3);
          const t = reps[i];
          let d: Delta;
          if (t.length > 0 && rnd(3) === 0) {
            const pos = rnd(t.length);
            d = t.delete(pos, 1 + rnd(Math.min(4, t.length - pos)));
          } else {
            d = t.insert(names[i], rnd(t.length + 1), ['x', 'yz', '😀', 'abc'][rnd(4)]);
          }
          // Every delta survives the round trip through its bytes.
          expect(hex(encodeDelta(decodeDelta(encodeDelta(d))))).toBe(hex(encodeDelta(d)));
          if (rnd(4) === 0) {
            const j = rnd(3);
            reps[j].merge(decodeDelta(encodeDelta(t.deltaSince(reps[j].context()))));
          }
        }
        for (let k = 0; k < 2; k++) {
          for (let i = 0; i < 3; i++) {
            for (let j = 0; j < 3; j++) {
              // The changes a merge reports, replayed on the old text, give the new one.
              const cps = [...reps[i].toString()];
              for (const c of reps[i].mergeChanges(decodeDelta(encodeDelta(reps[j].deltaSince(reps[i].context()))))) {
                if (c.insert !== undefined) cps.splice(c.pos, 0, ...c.insert);
                else cps.splice(c.pos, c.deleted);
              }
              expect(cps.join(''), `seed ${seed}`).toBe(reps[i].toString());
            }
          }
        }
        const want = hex(encodeDelta(reps[0].deltaSince()));
        // A loaded copy takes further edits as the original does.
        const copy = loadState(encodeDelta(reps[0].deltaSince()));
        for (const r of [reps[0], copy]) {
          r.insert('d', 0, 'new');
          if (r.length > 3) r.delete(1, 2);
        }
        expect(hex(encodeDelta(copy.deltaSince())), `seed ${seed}`).toBe(hex(encodeDelta(reps[0].deltaSince())));
        for (const r of [reps[1], reps[2]]) r.merge(reps[0].deltaSince(r.context()));
        const after = hex(encodeDelta(reps[0].deltaSince()));
        expect(after).not.toBe(want);
        for (const r of reps) {
          expect(r.toString(), `seed ${seed}`).toBe(reps[0].toString());
          expect(hex(encodeDelta(r.deltaSince())), `seed ${seed}`).toBe(after);
        }
      }
    } finally {
      Object.assign(shape, saved);
    }
  });
});

describe('text decoder on random damage', () => {
  it('refuses with a TextError or accepts an input that re-encodes to itself', () => {
    const seed = textSeed('text_unit');
    let s = seed >>> 0;
    const rnd = (n: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return Math.floor((s / 4294967296) * n);
    };
    const a = new Text();
    const b = new Text();
    a.insert('alice', 0, 'hello wörld 😀');
    b.merge(a.deltaSince());
    b.insert('bob', 5, ', dear');
    a.delete(2, 4);
    a.merge(b.deltaSince(a.context()));
    const seeds = [encodeDelta(a.deltaSince()), encodeDelta(b.deltaSince()), encodeDelta(a.delete(1, 3)), encodeDelta(a.insert('alice', 2, 'xyz'))];
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const src = seeds[rnd(seeds.length)];
      let m = Uint8Array.from(src);
      for (let k = 1 + rnd(3); k > 0; k--) {
        const at = rnd(m.length);
        switch (rnd(3)) {
          case 0:
            m[at] = rnd(256);
            break;
          case 1:
            m = Uint8Array.from([...m.subarray(0, at), rnd(256), ...m.subarray(at)]);
            break;
          default:
            m = Uint8Array.from([...m.subarray(0, at), ...m.subarray(at + 1)]);
        }
      }
      try {
        const d = decodeDelta(m);
        expect(hex(encodeDelta(d)), `seed ${seed}, input ${hex(m)}`).toBe(hex(m));
        accepted++;
      } catch (err) {
        expect(err instanceof TextError && err.malformed, `seed ${seed}, input ${hex(m)}: ${String(err)}`).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('TextBinding', () => {
  it('turns editor input into minimal edits and keeps the caret on its character through remote typing', () => {
    const alice = new TextBinding(new Text(), 'alice');
    const bob = new TextBinding(new Text(), 'bob');
    const send = (from: TextBinding, to: TextBinding, ds: Delta[], sel: { start: number; end: number }) => {
      let s = sel;
      for (const d of ds) s = to.remote(decodeDelta(encodeDelta(d)), s).selection;
      return s;
    };
    let bobSel = send(alice, bob, alice.input('hello 😀 world'), { start: 0, end: 0 });
    expect(bob.value).toBe('hello 😀 world');
    // Bob's caret after "😀" (UTF-16 offset 8); Alice types at the start and replaces "world".
    bobSel = { start: 8, end: 8 };
    // An input event changes one range: the edit keeps the common prefix and suffix.
    const typed = alice.input('>> hello 😀 world');
    expect(typed.length).toBe(1);
    expect(typed[0].runs[0].text).toBe('>> ');
    const replaced = alice.input('>> hello 😀 there');
    expect(replaced.length).toBe(2); // the delete, then the insert
    expect(replaced[1].runs[0].text).toBe('there');
    bobSel = send(alice, bob, [...typed, ...replaced], bobSel);
    expect(bob.value).toBe('>> hello 😀 there');
    expect(bob.value.slice(0, bobSel.start)).toBe('>> hello 😀');
    // Bob types at his caret while Alice types at the same place: both words stay whole.
    const bobDs = bob.input(bob.value.slice(0, bobSel.start) + 'BOB' + bob.value.slice(bobSel.start));
    const aliceDs = alice.input('>> hello 😀alice there');
    const aliceSel = send(bob, alice, bobDs, { start: 0, end: 2 });
    send(alice, bob, aliceDs, bobSel);
    expect(alice.value).toBe(bob.value);
    expect(alice.value.includes('BOB') && alice.value.includes('alice')).toBe(true);
    expect(aliceSel).toEqual({ start: 0, end: 2 });
    expect(alice.input(alice.value)).toEqual([]);
    // A stale selection past the end is clamped, not refused.
    const more = bob.input(bob.value + '.');
    expect(send(bob, alice, more, { start: 999, end: 999 })).toEqual({ start: alice.value.length - 1, end: alice.value.length - 1 });
  });
});

describe('text intention properties', () => {
  it('keeps each replica’s concurrently typed word contiguous, and a concurrent delete never removes it', () => {
    const seed = textSeed('text_unit intention');
    let s = seed >>> 0;
    const rnd = (n: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return Math.floor((s / 4294967296) * n);
    };
    for (let round = 0; round < 60; round++) {
      const base = new Text();
      base.insert('base', 0, 'the quick brown fox');
      const reps = ['ann', 'bob', 'cy'].map((id) => {
        const t = new Text();
        t.merge(base.deltaSince());
        return { id, t, word: `<${id.toUpperCase()}${round}>`, deltas: [] as Delta[] };
      });
      const at = rnd(base.length + 1); // all type at one place, or each somewhere
      const same = rnd(2) === 0;
      for (const r of reps) {
        const pos = same ? at : rnd(base.length + 1);
        const backwards = rnd(2) === 0;
        const chars = [...r.word];
        if (backwards) {
          for (let k = chars.length - 1; k >= 0; k--) r.deltas.push(r.t.insert(r.id, pos, chars[k]));
        } else {
          chars.forEach((c, k) => r.deltas.push(r.t.insert(r.id, pos + k, c)));
        }
        // A concurrent delete of some of the shared text around the spot.
        const from = Math.max(0, pos - 3);
        const n = Math.min(rnd(6), base.length - from);
        if (rnd(2) === 0 && n > 0) {
          // Delete only base characters: find them in the replica's own text.
          const text = r.t.toString();
          const start = text.indexOf(base.toString().slice(from, from + n));
          if (start >= 0) r.deltas.push(r.t.delete(start, n));
        }
      }
      for (const a of reps) for (const b of reps) if (a !== b) for (const d of a.deltas) b.t.merge(d);
      const final = reps[0].t.toString();
      for (const r of reps) {
        expect(r.t.toString(), `seed ${seed} round ${round}`).toBe(final);
        expect(final.includes(r.word), `seed ${seed} round ${round}: ${r.word} in ${final}`).toBe(true);
      }
    }
  });
});

describe('text fields as the workflow document embeds them', () => {
  it('reads the text encodings of docs/PROTOCOL.md "Text fields in the document"', () => {
    const typed = decodeDelta(Buffer.from('019491a5616c696365c40343000aa2686990', 'hex'));
    expect(typed.runs).toEqual([{ id: { replica: 'alice', counter: 6 }, len: 2, text: 'hi', left: { replica: '', counter: 0 }, right: { replica: '', counter: 0 } }]);
    expect(hex(encodeDelta(typed))).toBe('019491a5616c696365c40343000aa2686990');
    const del = decodeDelta(Buffer.from('019491a5616c696365c400a0919200920600', 'hex'));
    expect(del).toEqual({ runs: [], deleted: [{ replica: 'alice', lo: 6, hi: 6 }] });
    const t = new Text();
    t.merge(typed);
    t.merge(del);
    expect(t.toString()).toBe('i');
  });
});
