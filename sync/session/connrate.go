package session

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// maxRateTableEntries caps the per-address buckets of the connection-rate
// limit. An entry is a few dozen bytes, so the table stays around a few
// MiB however many addresses (or IPv6 /64s) an attacker uses.
const maxRateTableEntries = 1 << 16

// rateTableSweep is how often the table drops the buckets that have
// refilled: a full bucket admits exactly as an absent one does.
const rateTableSweep = time.Minute

// connRateLimiter is the connection-rate limit: a token bucket per client
// address (clientKey) taken once per upgrade attempt. It has a lock of its
// own so that the handler's mu never waits on a sweep.
type connRateLimiter struct {
	// Static after construction.
	perSecond    float64 // refill rate; 0: no limit
	burst        float64
	skipLoopback bool

	mu        sync.Mutex
	buckets   map[string]*tokenBucket // guarded by mu
	lastSweep time.Time               // guarded by mu
}

func newConnRateLimiter(cfg *Config) *connRateLimiter {
	l := &connRateLimiter{skipLoopback: cfg.ConnectionRateSkipsLoopback, buckets: make(map[string]*tokenBucket)}
	if cfg.ConnectionsPerMinutePerIP > 0 {
		l.perSecond = cfg.ConnectionsPerMinutePerIP / 60
		l.burst = float64(max(cfg.ConnectionBurstPerIP, 1))
	}
	return l
}

// allow takes one attempt for key at now. When refused it returns false
// and how long until the next attempt would pass, rounded up to a second
// (the Retry-After header counts whole seconds).
func (l *connRateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.perSecond == 0 {
		return true, 0
	}
	if l.skipLoopback {
		if ip, err := netip.ParseAddr(key); err == nil && ip.IsLoopback() {
			return true, 0
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.makeRoomLocked(now)
		b = new(tokenBucket)
		l.buckets[key] = b
	}
	if b.take(now, l.perSecond, l.burst, 1) {
		return true, 0
	}
	// A refused take changes nothing: b holds the tokens of its last
	// successful take, at b.last.
	wait := (1 - b.tokens) / l.perSecond
	if b.last != 0 {
		wait -= now.Sub(time.Unix(0, b.last)).Seconds()
	}
	return false, time.Duration(math.Ceil(max(wait, 1))) * time.Second
}

// makeRoomLocked drops the refilled buckets once per rateTableSweep, or
// at once when the table is full; if that frees nothing, it drops an
// arbitrary bucket (map order): that address starts afresh, which is the
// least harm a full table can do.
func (l *connRateLimiter) makeRoomLocked(now time.Time) {
	full := len(l.buckets) >= maxRateTableEntries
	if !full && now.Sub(l.lastSweep) < rateTableSweep {
		return
	}
	l.lastSweep = now
	refill := time.Duration(l.burst / l.perSecond * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(time.Unix(0, b.last)) >= refill {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxRateTableEntries {
		return
	}
	for k := range l.buckets {
		delete(l.buckets, k)
		return
	}
}
