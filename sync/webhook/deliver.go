package webhook

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// pump hands due deliveries to the workers, oldest key first, never more
// than there are idle workers (so a send on work never blocks).
func (d *Dispatcher) pump() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := d.cfg.Now()
		d.mu.Lock()
		var due []uint64
		var earliest time.Time
		for k, it := range d.items {
			switch {
			case it.busy:
			case !it.next.After(now):
				due = append(due, k)
			case earliest.IsZero() || it.next.Before(earliest):
				earliest = it.next
			}
		}
		slices.Sort(due)
		free := d.cfg.Workers - d.inflight
		for i, k := range due {
			if i >= free {
				break
			}
			d.items[k].busy = true
			d.inflight++
			d.work <- k
		}
		d.mu.Unlock()
		wait := time.Hour
		if !earliest.IsZero() {
			wait = max(earliest.Sub(now), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-d.pumpWake:
		case <-timer.C:
		case <-d.stop:
			return
		}
	}
}

func (d *Dispatcher) worker() {
	defer d.wg.Done()
	for {
		select {
		case k := <-d.work:
			d.attempt(k)
			d.mu.Lock()
			d.inflight--
			d.mu.Unlock()
			poke(d.pumpWake)
		case <-d.stop:
			return
		}
	}
}

// attempt makes one delivery attempt of record k and records its outcome.
func (d *Dispatcher) attempt(k uint64) {
	r, err := d.q.get(k)
	if err != nil {
		d.cfg.Logger.Error("webhook: unreadable queue record; dropping it", "key", k, "err", err)
		_ = d.q.remove(k)
		d.forget(k, "expired")
		return
	}
	start := d.cfg.Now()
	ok, status, err := d.send(r, start)
	if d.ctx.Err() != nil {
		// Closing: this attempt was cut short, not refused. The record is
		// untouched and tried again after the next Open.
		d.release(k, r.Next)
		return
	}
	d.cfg.Metrics.delivery(ok, d.cfg.Now().Sub(start).Seconds())
	if ok {
		if err := d.q.remove(k); err != nil {
			// Kept in the file: sent again after a restart, under the same
			// id, which the receiver drops.
			d.cfg.Logger.Error("webhook: removing a delivered event", "id", r.EventID, "err", err)
		}
		d.forget(k, "")
		return
	}
	r.Attempts++
	if r.Attempts >= d.cfg.MaxAttempts || start.Sub(r.Created) >= d.cfg.MaxAge {
		d.cfg.Logger.Error("webhook: giving up on an event", "id", r.EventID, "url", r.URL, "attempts", r.Attempts, "status", status, "err", err)
		_ = d.q.remove(k)
		d.forget(k, "expired")
		return
	}
	r.Next = start.Add(d.backoff(r.Attempts))
	d.cfg.Logger.Warn("webhook: delivery failed; retrying", "id", r.EventID, "url", r.URL, "attempts", r.Attempts, "next", r.Next, "status", status, "err", err)
	if err := d.q.put(k, r); err != nil {
		d.cfg.Logger.Error("webhook: recording a failed attempt", "id", r.EventID, "err", err)
	}
	d.release(k, r.Next)
}

// backoff is the wait after the n-th failed attempt: RetryBase doubled
// n-1 times, capped at RetryMax, drawn from [b/2, b) so that receivers
// coming back from an outage are not hit by every sender at once.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.RetryBase
	for i := 1; i < n && b < d.cfg.RetryMax; i++ {
		b *= 2
	}
	b = min(b, d.cfg.RetryMax)
	half := b / 2
	return half + rand.N(b-half+1)
}

// send POSTs r once. ok is a 2xx answer.
func (d *Dispatcher) send(r record, now time.Time) (ok bool, status int, err error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flowsync-webhook/1")
	req.Header.Set(HeaderEventID, r.EventID)
	req.Header.Set(HeaderEventType, r.Type)
	req.Header.Set(HeaderSignature, Sign(d.cfg.Secret, r.Body, now))
	req.Header.Set("Flowsync-Attempt", strconv.Itoa(r.Attempts+1))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return false, 0, err
	}
	// Drained (bounded) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300, resp.StatusCode, nil
}

// forget drops k from the schedule; reason, when set, counts it dropped.
func (d *Dispatcher) forget(k uint64, reason string) {
	if reason != "" {
		d.cfg.Metrics.dropped(reason, 1)
	}
	d.mu.Lock()
	delete(d.items, k)
	d.cfg.Metrics.queue(len(d.items))
	d.mu.Unlock()
}

// release schedules k's next attempt at next.
func (d *Dispatcher) release(k uint64, next time.Time) {
	d.mu.Lock()
	if it := d.items[k]; it != nil {
		it.next, it.busy = next, false
	}
	d.mu.Unlock()
}
