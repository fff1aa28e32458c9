// Shared by the text conformance tests: the script format of
// crdt/text/golden_test.go (and of the TypeScript → Go vectors), played on
// TypeScript replicas.

import { decodeDelta, encodeDelta, Text, TextError, TextStateLimits } from '../src/crdt/text';

export interface ScriptStep {
  replica: string;
  insert?: { pos: number; text: string };
  delete?: { pos: number; n: number };
  mergeStep?: number;
  since?: string;
  delta?: string;
}

export interface Script {
  name: string;
  replicas: string[];
  steps: ScriptStep[];
  final: Record<string, Final>;
}

/** A replica's final text, state and the anchors of indexes 0, the middle and the end: [index, replica, counter]. */
export interface Final {
  text: string;
  state: string;
  anchors: [number, string, number][];
}

export const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
export const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/** The Go verdict name of a decode error, as golden_test.go's errorCode writes it. */
export function decodeVerdict(err: unknown): string {
  if (!(err instanceof TextError)) throw err;
  if (err.code === 'FormatVersion' || err.code === 'NotCanonical' || err.code === 'TooManyItems') return err.code;
  if (!err.malformed) return err.code;
  return 'Malformed';
}

/** Plays a script on TypeScript replicas. */
export class ScriptRunner {
  readonly docs = new Map<string, Text>();

  constructor(replicas: string[]) {
    for (const r of replicas) this.docs.set(r, new Text());
  }

  doc(id: string): Text {
    const d = this.docs.get(id);
    if (!d) throw new Error(`unknown replica ${id}`);
    return d;
  }

  /** Applies step i and returns the bytes of the delta it made or merged (undefined for a merge of an earlier step). */
  step(sc: { steps: ScriptStep[] }, i: number): Uint8Array | undefined {
    const st = sc.steps[i];
    const t = this.doc(st.replica);
    if (st.insert) return encodeDelta(t.insert(st.replica, st.insert.pos, st.insert.text));
    if (st.delete) return encodeDelta(t.delete(st.delete.pos, st.delete.n));
    if (st.mergeStep !== undefined) {
      t.merge(decodeDelta(unb64(sc.steps[st.mergeStep].delta!)));
      return undefined;
    }
    if (st.since) {
      const b = encodeDelta(this.doc(st.since).deltaSince(t.context()));
      t.merge(decodeDelta(b, TextStateLimits));
      return b;
    }
    throw new Error(`step ${i} is empty`);
  }

  final(replicas: string[]): Record<string, Final> {
    const out: Record<string, Final> = {};
    for (const r of replicas) {
      const t = this.doc(r);
      const anchors: [number, string, number][] = [];
      for (const pos of [0, Math.floor(t.length / 2), t.length]) {
        const a = t.anchor(pos);
        if (t.resolve(a) !== pos) throw new Error(`anchor of ${pos} resolves to ${t.resolve(a)}`);
        anchors.push([pos, a.after.replica, a.after.counter]);
      }
      out[r] = { text: t.toString(), state: b64(encodeDelta(t.deltaSince())), anchors };
    }
    return out;
  }
}
