package client

import (
	"context"
	"fmt"
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/gorilla/websocket"
)

// writeLoop is the only writer of a joined connection's data frames. It
// sleeps until woken (Apply, presence, a Nack, a retry or a rate-limit
// timer), collects what is due under the client's lock, and writes it
// outside the lock.
func (c *Client) writeLoop(ctx context.Context, cn *conn) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		frames, wait := c.collect(cn, time.Now())
		for _, b := range frames {
			_ = cn.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
			if err := cn.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
				return fmt.Errorf("client: write: %w", err)
			}
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-cn.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// collect returns the encoded frames that are due on cn, and how long to
// wait before something not yet due will be (0: nothing is waiting). It
// marks the entries it sends as sent on cn and records which frame carries
// them (cn.flights): if the write fails, the connection is dead and the next
// one resends them.
func (c *Client) collect(cn *conn, now time.Time) (frames [][]byte, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != cn {
		return nil, 0
	}
	later := func(d time.Duration) {
		if d <= 0 {
			d = time.Millisecond
		}
		if wait == 0 || d < wait {
			wait = d
		}
	}
	// Vouches first: the outbox's edits may depend on what they hand back.
	frames, vouched := c.vouchesLocked(cn, now, frames, later)
	var due []*entry
	for _, e := range c.out.entries {
		if !vouched {
			break
		}
		switch {
		case e.gen == cn.gen:
		case e.retryAt.After(now):
			later(e.retryAt.Sub(now))
		default:
			due = append(due, e)
		}
	}
	limit := c.maxDeltaLocked()
	for _, run := range group(due, limit, !c.cfg.DisableCoalescing) {
		if !cn.bucket.take(now) {
			later(cn.bucket.wait(now))
			break
		}
		for _, f := range fold(run, limit, c.nextOpIDLocked) {
			b, err := protocol.Encode(&protocol.Delta{WorkflowID: c.cfg.WorkflowID, OpID: f.id, Delta: f.enc})
			if err != nil {
				// Cannot happen for a valid workflow id and op id; keep the
				// entries rather than drop an edit.
				c.log.Error("cannot encode delta", "op", f.id, "err", err)
				continue
			}
			for _, e := range f.entries {
				e.gen, e.applied = cn.gen, false
				if n := len(e.mine); n > 0 {
					c.sentMax = max(c.sentMax, e.mine[n-1].Hi)
				}
			}
			cn.flights[f.id] = f.entries
			frames = append(frames, b)
		}
	}

	if c.presDirty {
		if next := cn.lastPresence.Add(c.cfg.PresenceInterval); now.Before(next) {
			later(next.Sub(now))
		} else {
			p := &protocol.Presence{WorkflowID: c.cfg.WorkflowID, Selection: c.selection, Caret: c.caret}
			if c.cursor != nil {
				q := *c.cursor
				p.Cursor = &q
			}
			if b, err := protocol.Encode(p); err == nil {
				frames = append(frames, b)
			}
			c.presDirty = false
			cn.lastPresence = now
		}
	}
	if len(c.drag) > 0 {
		if next := cn.lastDrag.Add(c.cfg.PresenceInterval); now.Before(next) {
			later(next.Sub(now))
		} else {
			if b, err := protocol.Encode(&protocol.Drag{WorkflowID: c.cfg.WorkflowID, Positions: c.drag}); err == nil {
				frames = append(frames, b)
			}
			c.drag = nil
			cn.lastDrag = now
		}
	}
	return frames, wait
}

// tokenBucket paces Delta frames under the rate the server announced in
// Welcome (lim.ops sustained, lim.burst above it), so that the client folds
// its deltas instead of being refused with RATE_LIMITED. A zero rate means
// no limit. Owned by the writer (collect runs under the client's lock).
type tokenBucket struct {
	rate   float64 // tokens per second; 0 = unlimited
	burst  float64
	tokens float64
	at     time.Time
}

func newTokenBucket(opsPerSecond, burst uint64, now time.Time) tokenBucket {
	if opsPerSecond == 0 {
		return tokenBucket{}
	}
	// Stay a little under the announced rate: the server's clock and ours
	// do not tick together.
	rate := float64(opsPerSecond) * 0.9
	b := max(float64(burst)*0.9, 1)
	return tokenBucket{rate: rate, burst: b, tokens: b, at: now}
}

func (t *tokenBucket) refill(now time.Time) {
	if d := now.Sub(t.at); d > 0 {
		t.tokens = min(t.burst, t.tokens+d.Seconds()*t.rate)
		t.at = now
	}
}

// take spends a token if one is available.
func (t *tokenBucket) take(now time.Time) bool {
	if t.rate == 0 {
		return true
	}
	t.refill(now)
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// wait returns how long until a token is available.
func (t *tokenBucket) wait(now time.Time) time.Duration {
	t.refill(now)
	if t.rate == 0 || t.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - t.tokens) / t.rate * float64(time.Second))
}
