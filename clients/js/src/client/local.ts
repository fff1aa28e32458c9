// The local replica: the replica id this page mints dots with, the
// document, the hybrid logical clock, and what is known about the id's
// dots (what the page loaded, sent, and what the server holds).

import type { Context } from '../crdt/context';
import { Clock, type Timestamp } from '../crdt/hlc';
import type { Op } from '../workflow/builder';
import '../workflow/builder'; // adds Doc.prototype.prepare
import { emptyDoc, remintDoc, type Doc } from './replica';
import { latestWrite } from './scan';

export class LocalReplica {
  id: string;
  doc: Doc = emptyDoc();
  clock: Clock;
  /** Our replica's max counter when the document was loaded (or the id was changed). */
  loadMax = 0;
  /** The greatest own counter this page has sent. */
  sentMax = 0;
  /**
   * While a reset's catch-up rebuilds the document, doc and view() keep
   * showing the document as it was (refused edit included) instead of the
   * half-rebuilt one, so that the canvas does not flash empty; the 'change'
   * at the end of the catch-up switches to the server's state.
   */
  shown: Doc | null = null;

  constructor(
    id: string,
    private readonly now: () => number,
  ) {
    this.id = id;
    this.clock = new Clock(id);
  }

  /** visible is the document the app sees. */
  get visible(): Doc {
    return this.shown ?? this.doc;
  }

  /** max is the greatest counter of our replica in the document. */
  max(): number {
    return this.doc.context().max(this.id);
  }

  /** loaded records the document just restored as what the page loaded. */
  loaded(): void {
    this.loadMax = this.max();
  }

  /** stamp is a fresh timestamp of this replica, for a local edit. */
  stamp(): Timestamp {
    return this.clock.now(this.now());
  }

  /** prepare runs op against the document at a fresh timestamp and returns its delta (not merged). */
  prepare(op: Op): Doc {
    return this.doc.prepare(this.clock.now(this.now()), op);
  }

  /** sent records that a delta went out, for the check of the server's record on the next Joined. */
  sent(delta: Doc): void {
    this.sentMax = Math.max(this.sentMax, delta.context().max(this.id));
  }

  /**
   * observe moves the clock past the latest write of an encoded delta or
   * document: a local write made on a lagging wall clock would otherwise
   * lose to the write it was meant to replace.
   */
  observe(bytes: Uint8Array): void {
    const t = latestWrite(bytes);
    if (t) this.clock.observe({ wall: t.wall, logical: t.logical, replica: '' }, this.now());
  }

  /** observeServerTime moves the clock past the server's clock (Welcome). */
  observeServerTime(ms: number): void {
    this.clock.observe({ wall: ms, logical: 0, replica: '' }, this.now());
  }

  /**
   * retire switches to a fresh id and keeps the document: its clock goes on
   * from the old one, and nothing is known yet of the new id's dots.
   */
  retire(fresh: string): void {
    const last = this.clock.last();
    this.switchTo(fresh);
    this.clock.observe({ wall: last.wall, logical: last.logical, replica: '' }, this.now());
  }

  /**
   * remint switches to a fresh id and renames the old id's dots in which to
   * dots of the fresh one (see workflow's remint), keeping the clock going.
   */
  remint(fresh: string, which: Context): void {
    const doc = remintDoc(this.doc, this.id, fresh, which);
    this.retire(fresh);
    this.doc = doc;
  }

  /**
   * reset switches to a fresh id with an empty document, to be rebuilt by
   * the catch-up; the old document stays visible until finishReset.
   */
  reset(fresh: string): void {
    this.shown = this.shown ?? this.doc;
    this.switchTo(fresh);
    this.doc = emptyDoc();
  }

  /** finishReset shows the rebuilt document. */
  finishReset(): void {
    this.shown = null;
  }

  private switchTo(fresh: string): void {
    this.id = fresh;
    this.clock = new Clock(fresh);
    this.loadMax = 0;
    this.sentMax = 0;
  }
}
