// Port of crdt/workflow/writes_since.go.

import { Context } from '../crdt/context';
import { textsSince } from './texts';
import type { ReplicaID } from '../crdt/dot';
import { Doc } from './doc';

/**
 * writesSince returns, as a delta, what a replica whose causal context is
 * have lacks of the writes of replica r, leaving out the dots in skip
 * (undefined for none): the values under r's dots that have has not seen; a
 * context of those dots, of r's other unseen dots (values since overwritten)
 * and of every dot that have has seen, d no longer holds and skip lacks (the
 * removals have must learn). It returns an empty Doc when have has seen every
 * dot of r in d that skip lacks.
 *
 * It is deltaSince for one author: the catch-up a replica sends to the
 * server after a join, for the writes it made that the server never
 * received (a server node that died before its peers heard a write, a
 * replica reset that re-minted writes the server lacked). Other replicas'
 * values are left out because only their authors may send them. A document
 * does not record which write removed a value, so the removals have lacks
 * are all carried, including those of other replicas' writes that have
 * lacks: they are what those writes do when they arrive. skip leaves out the
 * writes and removals of deltas sent another way (an outbox) or never to be
 * sent (refused). (Go: Doc.WritesSince.)
 */
export function writesSince(d: Doc, r: ReplicaID, have: Context, skip: Context = new Context()): Doc {
  const out = new Doc();
  const own = new Context();
  for (const rg of d.context().ranges(r)) own.addRange(r, rg);
  const missing = own.missing(have).missing(skip);
  if (missing.isEmpty()) return out;
  out.context().merge(missing);
  d.store().range((k, es) => {
    for (const e of es) {
      if (e.dot.replica === r && missing.contains(e.dot)) out.store().put(k, e.dot, e.value);
    }
    return true;
  });
  // Removals: what both have seen (d's context ∩ have) minus what d holds.
  const seen = d.context().missing(d.context().missing(have));
  const heldSeen = new Map<ReplicaID, number[]>();
  d.store().dots((dot) => {
    if (!seen.contains(dot)) return;
    let cs = heldSeen.get(dot.replica);
    if (!cs) heldSeen.set(dot.replica, (cs = []));
    cs.push(dot.counter);
  });
  const held = new Context();
  for (const [rep, cs] of heldSeen) {
    cs.sort((a, b) => a - b); // in order, each addRange appends or extends the last range
    for (const c of cs) held.addRange(rep, { lo: c, hi: c });
  }
  out.context().merge(seen.missing(held).missing(skip));
  // The replica's typed items, and every deleted dot (deletes spend no dot
  // of their own in the records: a missing delete dot of r is the only sign
  // of one).
  for (const { id, rec } of textsSince(d.texts(), have, r, skip).entries()) out.texts().set(id, rec);
  return out;
}
