package rooms

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/receipt"
)

// Receipts and the durable mark. A room relays an edit before it is
// durable; if the process dies in between, the edit survives only in the
// clients that received it. So every delta a room sends carries a receipt
// (a MAC under the deployment key, Config.Receipts), every relayed frame a
// sequence number within the room's epoch (a fresh id per load), and the
// room tells its members how far its frames are durable (Joined.Stable, the
// Stable frame). A client keeps what it received until it is durable; after
// a Joined of another epoch it hands back what it kept in Vouch frames, and
// any node of the deployment takes them: the receipt proves a node admitted
// them, so a client cannot pass its own content off as another replica's.

// receiptState is owned by the room loop.
type receiptState struct {
	epoch    string
	relaySeq uint64 // sequence of the latest relayed frame
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sign returns the receipt for delta bytes the room sends, or the zero
// receipt when the deployment makes none.
func (rm *Room) sign(delta []byte) protocol.Receipt {
	if rm.cfg.Receipts == nil {
		return protocol.Receipt{}
	}
	r := rm.cfg.Receipts.Sign(rm.id, delta)
	return protocol.Receipt{KeyID: r.KeyID, MAC: r.MAC}
}

// nextSeq numbers the next relayed frame.
func (rm *Room) nextSeq() uint64 {
	rm.receipts.relaySeq++
	return rm.receipts.relaySeq
}

// pendingSeq is the sequence of the frame that carries a delta queued for
// the store now. Every caller adds the delta to the relay batch first: if
// the batch still holds it, the next frame will; if the batch was flushed
// since, the frame just sent did. (A delta that was not relayed gets the
// latest sequence, which can only hold the mark back, never move it past
// an edit that is not durable.)
func (rm *Room) pendingSeq() uint64 {
	if rm.relay.n > 0 {
		return rm.receipts.relaySeq + 1
	}
	return rm.receipts.relaySeq
}

// stableMark is the greatest sequence whose frames, and every frame before
// them, hold only durable edits: just below the oldest delta still waiting
// for the store (deltas are written in the order they were queued).
func (rm *Room) stableMark() uint64 {
	switch {
	case len(rm.inflight) > 0:
		return rm.inflight[0].seq - 1
	case len(rm.pending) > 0:
		return rm.pending[0].seq - 1
	}
	return rm.receipts.relaySeq
}

// announceStable tells the members that hold edits not yet known durable
// that the durable mark moved, once per store commit at most. A member
// that was sent nothing since its last mark (an author typing alone gets
// none of its own edits back) gets no frame.
func (rm *Room) announceStable() {
	mark := rm.stableMark()
	var frame []byte
	var f *protocol.Stable
	n := 0
	for _, ms := range rm.members {
		if ms.removed || ms.stableSent >= ms.lastSeq || mark <= ms.stableSent {
			continue
		}
		if frame == nil {
			f = &protocol.Stable{WorkflowID: rm.id, Epoch: rm.receipts.epoch, Seq: mark}
			frame = protocol.AppendFrame(make([]byte, 0, 48+len(rm.id)), f)
		}
		ms.stableSent = mark
		if !rm.enqueue(ms, frame) {
			rm.markSlow(ms)
			continue
		}
		n++
	}
	if f != nil {
		rm.metrics.frameOut(f.Type(), n, len(frame))
	}
}

// handleVouch takes back an edit a client received from some node with its
// receipt: checked, it is merged as another node's delta would be (it was
// admitted once; a client cannot have made it up), relayed to whoever lacks
// it, published and stored. Whether or not the room held it already, the
// client gets Applied and, once a store write covers it, Durable.
func (rm *Room) handleVouch(ev *vouchEvent) {
	ms, ok := rm.members[ev.m]
	if !ok {
		nack(ev.m, ev.opID, protocol.NewError(protocol.CodeNotJoined, "join %q first", rm.id))
		return
	}
	if rm.cfg.Receipts == nil {
		rm.refuse(ms, ev.opID, protocol.NewError(protocol.CodeBadReceipt, "this server makes and checks no receipts"))
		return
	}
	if err := rm.cfg.Receipts.Verify(rm.id, ev.raw, receipt.Receipt{KeyID: ev.receipt.KeyID, MAC: ev.receipt.MAC}); err != nil {
		rm.metrics.vouch(false)
		rm.refuse(ms, ev.opID, protocol.NewError(protocol.CodeBadReceipt, "%v", err))
		return
	}
	if err := rm.canTakeWork(len(ev.raw)); err != nil {
		rm.refuse(ms, ev.opID, err)
		return
	}
	covered := rm.doc.Context().Covers(ev.delta.Context())
	if !covered {
		if err := rm.checkDocSize(len(ev.raw)); err != nil {
			rm.refuse(ms, ev.opID, err)
			return
		}
	}
	rm.metrics.vouch(true)
	ack := func() {
		ack := &protocol.Applied{OpID: ev.opID}
		rm.sendTo(ms, ack, protocol.AppendFrame(make([]byte, 0, 16+len(ev.opID)), ack))
		rm.queueWrite(pendingDelta{m: ms.m, opID: ev.opID, raw: ev.raw, delta: ev.delta, applied: rm.cfg.now(), unmerged: covered})
	}
	if covered {
		ack()
		return
	}
	if latest := ev.delta.Latest(); !latest.IsZero() {
		rm.clock.Observe(latest, rm.nowMs())
	}
	rm.mergeThen(ms.m, ev.delta, func() {
		rm.publish(ev.raw)
		rm.relay.add(ev.raw, ev.delta, remoteOrigin, ms)
		if len(rm.inbox) == 0 || rm.relay.full() {
			rm.flushRelay()
		}
		ack()
	})
}
