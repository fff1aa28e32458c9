package session

import (
	"fmt"
	"testing"
	"time"
)

func TestConnRateLimiter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cfg := Config{ConnectionsPerMinutePerIP: 15, ConnectionBurstPerIP: 3}.withDefaults()
	l := newConnRateLimiter(&cfg)
	for i := range 3 {
		if ok, _ := l.allow("203.0.113.1", t0); !ok {
			t.Fatalf("attempt %d within the burst refused", i)
		}
	}
	ok, wait := l.allow("203.0.113.1", t0)
	if ok || wait != 4*time.Second {
		t.Fatalf("attempt past the burst: ok=%v retry after %v, want refused, 4s (15/min)", ok, wait)
	}
	if ok, wait := l.allow("203.0.113.1", t0.Add(3*time.Second)); ok || wait != time.Second {
		t.Fatalf("3 s later: ok=%v retry after %v, want refused, 1s", ok, wait)
	}
	if ok, _ := l.allow("203.0.113.1", t0.Add(4*time.Second)); !ok {
		t.Fatal("a refilled token was refused")
	}
	if ok, _ := l.allow("203.0.113.2", t0); !ok {
		t.Fatal("another address was refused")
	}
	// Refilled buckets (a burst of 3 refills in 12 s) go at the next
	// sweep; a bucket still refilling stays.
	l.allow("203.0.113.5", t0.Add(rateTableSweep))
	l.allow("203.0.113.4", t0.Add(2*rateTableSweep-5*time.Second))
	l.allow("203.0.113.3", t0.Add(2*rateTableSweep))
	if _, ok := l.buckets["203.0.113.4"]; !ok || len(l.buckets) != 2 { // .4 refilling, .3 new
		t.Fatalf("after a sweep the table holds %v, want .3 and .4 only", l.buckets)
	}
}

func TestConnRateLimiterTableBounded(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cfg := Config{ConnectionsPerMinutePerIP: 1, ConnectionBurstPerIP: 1}.withDefaults()
	l := newConnRateLimiter(&cfg)
	l.lastSweep = t0
	for i := range maxRateTableEntries + 1000 {
		l.allow(fmt.Sprintf("2001:db8:%x::/64", i), t0) // none refills within the test
	}
	if n := len(l.buckets); n > maxRateTableEntries {
		t.Fatalf("table holds %d buckets, cap %d", n, maxRateTableEntries)
	}
}

func TestConnRateLimiterLoopbackExempt(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cfg := Config{ConnectionsPerMinutePerIP: 1, ConnectionBurstPerIP: 1, ConnectionRateSkipsLoopback: true}.withDefaults()
	l := newConnRateLimiter(&cfg)
	for i := range 10 {
		if ok, _ := l.allow("127.0.0.1", t0); !ok {
			t.Fatalf("loopback attempt %d refused with ConnectionRateSkipsLoopback", i)
		}
	}
	l.allow("203.0.113.1", t0)
	if ok, _ := l.allow("203.0.113.1", t0); ok {
		t.Fatal("ConnectionRateSkipsLoopback exempted another address")
	}
}
