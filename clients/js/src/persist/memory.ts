// In-memory persistence: the same contract as IndexedDB, kept in this
// JavaScript realm. Share one instance between clients to simulate a reload
// in tests; a fresh instance is a fresh device.

import {
  newReplicaId,
  type LoadedState,
  type Persistence,
  type ReceiptKey,
  type ReplicaLease,
  type ReplicaState,
  type StoredEntry,
  type StoredReceipt,
} from './types';

interface Slot {
  id: string;
  held: boolean;
}

interface Record_ {
  doc: Uint8Array | null;
  log: Uint8Array[];
  outbox: Map<number, StoredEntry>;
  nextSeq: number;
  receipts: Map<string, StoredReceipt>;
}

const receiptKey = (k: ReceiptKey) => JSON.stringify(k);
const copyEntry = (e: StoredEntry): StoredEntry => ({
  ...e,
  delta: e.delta.slice(),
  ...(e.mine ? { mine: e.mine.map((r) => ({ ...r })) } : {}),
  ...(e.rejected ? { rejected: { ...e.rejected } } : {}),
});
const copyReceipt = (r: StoredReceipt): StoredReceipt => ({ ...r, delta: r.delta.slice(), mac: r.mac.slice() });

export class MemoryPersistence implements Persistence {
  readonly kind = 'memory' as const;
  private readonly pools = new Map<string, Slot[]>();
  private readonly records = new Map<string, Record_>();

  private rec(wf: string, rid: string): Record_ {
    const k = JSON.stringify([wf, rid]);
    let r = this.records.get(k);
    if (!r) {
      r = { doc: null, log: [], outbox: new Map(), nextSeq: 1, receipts: new Map() };
      this.records.set(k, r);
    }
    return r;
  }

  async claimReplica(wf: string): Promise<ReplicaLease> {
    // A pool per workflow like the IndexedDB one: reuse a free id (its saved
    // document and outbox come with it), mint one when every id is held.
    let slots = this.pools.get(wf);
    if (!slots) this.pools.set(wf, (slots = []));
    let slot = slots.find((s) => !s.held);
    if (!slot) {
      slot = { id: newReplicaId(), held: false };
      slots.push(slot);
    }
    slot.held = true;
    const s = slot;
    let released = false;
    return {
      get replicaId() {
        return s.id;
      },
      replace: async (newId: string) => {
        s.id = newId;
      },
      release: () => {
        if (!released) {
          released = true;
          s.held = false;
        }
      },
    };
  }

  async load(wf: string, rid: string): Promise<LoadedState> {
    const r = this.rec(wf, rid);
    const outbox = [...r.outbox.values()].sort((a, b) => a.seq - b.seq).map(copyEntry);
    const receipts = [...r.receipts.values()].map(copyReceipt);
    return { doc: r.doc ? r.doc.slice() : null, log: r.log.map((d) => d.slice()), outbox, nextSeq: r.nextSeq, receipts };
  }

  async appendLocal(wf: string, rid: string, entries: readonly StoredEntry[]): Promise<void> {
    const r = this.rec(wf, rid);
    for (const entry of entries) {
      r.outbox.set(entry.seq, copyEntry(entry));
      r.log.push(entry.delta.slice());
      r.nextSeq = Math.max(r.nextSeq, entry.seq + 1);
    }
  }

  async appendLog(wf: string, rid: string, deltas: Uint8Array[], receipts: StoredReceipt[] = []): Promise<void> {
    const r = this.rec(wf, rid);
    for (const d of deltas) r.log.push(d.slice());
    for (const k of receipts) r.receipts.set(receiptKey([k.epoch, k.seq, k.sub]), copyReceipt(k));
  }

  async removeReceipts(wf: string, rid: string, keys: ReceiptKey[]): Promise<void> {
    const r = this.rec(wf, rid);
    for (const k of keys) r.receipts.delete(receiptKey(k));
  }

  async markRejected(wf: string, rid: string, seqs: number[], rejected: { code: number; message: string }): Promise<void> {
    const r = this.rec(wf, rid);
    for (const s of seqs) {
      const e = r.outbox.get(s);
      if (e) e.rejected = { ...rejected };
    }
  }

  async saveReplica(wf: string, rid: string, state: ReplicaState): Promise<void> {
    const r = this.rec(wf, rid);
    r.doc = state.doc.slice();
    r.log = [];
    r.outbox = new Map(state.outbox.map((e) => [e.seq, copyEntry(e)]));
    r.nextSeq = Math.max(r.nextSeq, state.nextSeq);
    r.receipts = new Map(state.receipts.map((k) => [receiptKey([k.epoch, k.seq, k.sub]), copyReceipt(k)]));
  }

  async saveSnapshot(wf: string, rid: string, doc: Uint8Array): Promise<void> {
    const r = this.rec(wf, rid);
    r.doc = doc.slice();
    r.log = [];
  }

  async removeEntries(wf: string, rid: string, seqs: number[]): Promise<void> {
    const r = this.rec(wf, rid);
    for (const s of seqs) r.outbox.delete(s);
  }

  async dropReplica(wf: string, rid: string): Promise<void> {
    this.records.delete(JSON.stringify([wf, rid]));
  }

  async close(): Promise<void> {}
}
