// The outbox: the local deltas the server has not yet made durable, and the
// recent durable ones kept in case a rejoined server lacks them.
//
// Every local delta stays in the outbox until a Durable frame names it:
// Applied alone survives nothing on the server. A server node can also make
// a delta durable and then die before its peers have heard it, so recent
// durable deltas are kept for a while and go back into the outbox when a
// Joined shows the server's context lacking their dots. Deltas waiting
// together are folded by merging, never by dropping one; a folded frame the
// server refuses for good is unfolded and its edits resent one per frame, so
// that each edit gets its own answer. An edit refused for good leaves the
// outbox for the refused list: kept (and counted in the status) until a
// reset, never sent again.

import type { Range } from '../crdt/context';
import { DeltaCaps, withinCaps } from '../workflow/codec';
import { randomHex } from './options';
import { mergeAll, ownDotsCovered, type Context, type Doc } from './replica';

/** How many recent durable deltas, and how many of their bytes, are kept. */
const maxRecentDeltas = 4096;
const maxRecentBytes = 8 << 20;

/** One local delta the server has not yet made durable. */
export interface Entry {
  id: string;
  delta: Doc;
  enc: Uint8Array;
  /** The storage seqs this entry stands for (several after coalescing). */
  seqs: number[];
  /** The counters of the replica the edit minted (the delta's context also covers older dots). */
  mine: Range[];
  /** The entries a coalesced entry folded, to resend one by one if it is refused for good. */
  parts?: Entry[];
  /** Sent in a frame of its own: a frame it was folded into was refused for good. */
  solo: boolean;
  /** The connection generation it was last sent on; another gen means "due". */
  gen: number;
  applied: boolean;
  retries: number;
  retryAt: number;
}

/** An edit the server refused for good: kept until a reset, never sent again. */
export interface Refused {
  entry: Entry;
  code: number;
  message: string;
}

/** newEntry returns an entry not yet sent. */
export function newEntry(id: string, delta: Doc, enc: Uint8Array, seqs: number[], mine: Range[]): Entry {
  return { id, delta, enc, seqs, mine, solo: false, gen: 0, applied: false, retries: 0, retryAt: 0 };
}

/** resend marks an entry as not yet sent, to be sent at once. */
export function resend(e: Entry): void {
  e.gen = 0;
  e.applied = false;
  e.retries = 0;
  e.retryAt = 0;
}

export class Outbox {
  private entries: Entry[] = [];
  private recent: Entry[] = [];
  /** Edits refused for good, oldest first. */
  refused: Refused[] = [];
  private recentBytes = 0;
  /** Op ids are unique per page (the counter) and tell pages apart in server logs (the prefix). */
  private readonly opPrefix = randomHex(6);
  private opSeq = 0;

  get length(): number {
    return this.entries.length;
  }

  newId(): string {
    return `${this.opPrefix}-${(++this.opSeq).toString(36)}`;
  }

  add(e: Entry): void {
    this.entries.push(e);
  }

  /** pending returns the entries, oldest first (the array is the outbox's own). */
  pending(): readonly Entry[] {
    return this.entries;
  }

  /**
   * unfold replaces a coalesced entry by the entries it folded, each to be
   * sent in a frame of its own, and reports whether there was anything to
   * unfold.
   */
  unfold(e: Entry): boolean {
    if (!e.parts || e.parts.length < 2) return false;
    const i = this.entries.indexOf(e);
    if (i < 0) return false;
    const parts = leaves(e);
    for (const p of parts) {
      resend(p);
      p.solo = true;
    }
    this.entries.splice(i, 1, ...parts);
    return true;
  }

  /** unfoldAll replaces every coalesced entry by the entries it folded (before a re-mint renames them one by one). */
  unfoldAll(): void {
    this.entries = this.entries.flatMap((e) => leaves(e));
  }

  /** reject moves e from the outbox to the refused edits. */
  reject(e: Entry, code: number, message: string): Refused {
    this.entries = this.entries.filter((x) => x !== e);
    const r = { entry: e, code, message };
    this.refused.push(r);
    return r;
  }

  get(id: string): Entry | undefined {
    return this.entries.find((x) => x.id === id);
  }

  /** unacked counts the entries not applied on connection gen (-1: none is). */
  unacked(gen: number): number {
    return this.entries.filter((e) => !e.applied || e.gen !== gen).length;
  }

  /** awaiting reports whether an entry sent on connection gen still waits for its Applied or Nack. */
  awaiting(gen: number): boolean {
    return this.entries.some((e) => e.gen === gen && !e.applied);
  }

  /**
   * durable moves the entries named in ids to the recent ones and returns
   * the storage seqs they stood for, or null when none of them was here.
   */
  durable(ids: string[]): number[] | null {
    const set = new Set(ids);
    const seqs: number[] = [];
    const kept: Entry[] = [];
    for (const e of this.entries) {
      if (!set.has(e.id)) {
        kept.push(e);
        continue;
      }
      seqs.push(...e.seqs);
      e.seqs = [];
      // A recent entry is resent whole, if ever: its parts are done with.
      e.parts = undefined;
      this.recent.push(e);
      this.recentBytes += e.enc.length;
    }
    while (this.recent.length > maxRecentDeltas || this.recentBytes > maxRecentBytes) {
      this.recentBytes -= this.recent.shift()!.enc.length;
    }
    if (kept.length === this.entries.length) return null;
    this.entries = kept;
    return seqs;
  }

  /**
   * requeueLacking puts back into the outbox every recent entry with a dot
   * of replica that the server's context lacks. They have no storage seqs
   * left (storage dropped them at their Durable); the memory copy is what
   * is resent.
   */
  requeueLacking(server: Context, replica: string): void {
    const kept: Entry[] = [];
    for (const e of this.recent) {
      if (ownDotsCovered(server, e.delta, replica)) kept.push(e);
      else {
        this.recentBytes -= e.enc.length;
        e.gen = 0;
        e.applied = false;
        e.retries = 0;
        e.retryAt = 0;
        e.seqs = [];
        this.entries.push(e);
      }
    }
    this.recent = kept;
  }

  /** clear drops every entry: pending, recent and refused. */
  clear(): void {
    this.entries = [];
    this.refused = [];
    this.clearRecent();
  }

  clearRecent(): void {
    this.recent = [];
    this.recentBytes = 0;
  }

  /**
   * due returns the entries not yet sent on connection gen whose retry
   * time has come, and passes later the wait until the next one that has
   * not.
   */
  due(gen: number, now: number, later: (ms: number) => void): Entry[] {
    const out: Entry[] = [];
    for (const e of this.entries) {
      if (e.gen === gen) continue;
      if (e.retryAt > now) later(e.retryAt - now);
      else out.push(e);
    }
    return out;
  }

  /**
   * coalesce folds runs of due entries into single entries by merging, each
   * at most 3/4 of the delta limit (a merge's encoding is at most about the
   * sum of its parts'). A merged entry takes the first's place with a fresh
   * op id and stands for every part's storage seq, so its Durable clears
   * them all. A group also stays within the work caps (DeltaCaps) by its
   * parts' summed counts, and a merge past them is sent as its parts.
   * Entries larger than the limit, and solo ones, stay alone.
   */
  coalesce(due: Entry[], maxDelta: number): Entry[] {
    const limit = (maxDelta * 3) / 4;
    const out: Entry[] = [];
    let group: Entry[] = [];
    let size = 0;
    // Summed over the group: counts only shrink in a merge, so a group
    // within the work caps folds into a delta the server admits.
    let counts = { values: 0, replicas: 0, ranges: 0, valueNodes: 0 };
    const fold = () => {
      const delta = group.length > 1 ? mergeAll(group.map((e) => e.delta)) : null;
      if (group.length === 1) out.push(group[0]);
      else if (delta !== null && !withinCaps(delta.counts(), DeltaCaps)) {
        // Past the work caps a server holds a delta to: sent as its parts.
        out.push(...group);
      } else if (delta !== null) {
        const m: Entry = {
          ...newEntry(
            this.newId(),
            delta,
            delta.encode(),
            group.flatMap((e) => e.seqs),
            group.flatMap((e) => e.mine),
          ),
          parts: group,
          retries: Math.max(...group.map((e) => e.retries)),
        };
        const drop = new Set(group);
        const i = this.entries.indexOf(group[0]);
        this.entries[i] = m;
        this.entries = this.entries.filter((e) => e === m || !drop.has(e));
        out.push(m);
      }
      group = [];
      size = 0;
      counts = { values: 0, replicas: 0, ranges: 0, valueNodes: 0 };
    };
    for (const e of due) {
      if (e.solo) {
        fold();
        out.push(e);
        continue;
      }
      const c = e.delta.counts();
      const sum = (k: keyof typeof counts): number => counts[k] + c[k];
      const next = { values: sum('values'), replicas: sum('replicas'), ranges: sum('ranges'), valueNodes: sum('valueNodes') };
      if (group.length > 0 && (size + e.enc.length > limit || !withinCaps(next, DeltaCaps))) fold();
      group.push(e);
      size += e.enc.length;
      counts = { values: counts.values + c.values, replicas: counts.replicas + c.replicas, ranges: counts.ranges + c.ranges, valueNodes: counts.valueNodes + c.valueNodes };
    }
    fold();
    return out;
  }
}

/** leaves returns the single edits a (possibly nested) coalesced entry folded, or the entry itself. */
export function leaves(e: Entry): Entry[] {
  if (!e.parts || e.parts.length === 0) return [e];
  return e.parts.flatMap(leaves);
}
