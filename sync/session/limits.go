package session

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// clientKey is the address a connection counts against for
// MaxConnectionsPerIP: the TCP peer, or with trustProxy the last
// X-Forwarded-For entry. An IPv6 address counts as its /64 (one host
// usually holds a whole /64). An unparsable address counts as itself.
func clientKey(r *http.Request, trustProxy bool) string {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				addr = last
			}
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// admitConn counts a new connection from key against the global and
// per-IP caps. It returns the HTTP status to refuse with (0: admitted; the
// caller must call releaseConn(key) when the connection ends).
func (h *Handler) admitConn(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return http.StatusServiceUnavailable
	}
	if c := h.cfg.MaxConnections; c > 0 && h.conns >= c {
		h.metrics.refused(limitConnections)
		return http.StatusServiceUnavailable
	}
	if c := h.cfg.MaxConnectionsPerIP; c > 0 && h.perIP[key] >= c {
		h.metrics.refused(limitConnectionsPerIP)
		return http.StatusTooManyRequests
	}
	h.conns++
	h.perIP[key]++
	return 0
}

func (h *Handler) releaseConn(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns--
	if h.perIP[key]--; h.perIP[key] <= 0 {
		delete(h.perIP, key)
	}
}

// rateLimits are a session's inbound token buckets. Owned by the reader.
// They are values inside the session rather than rate.Limiters: every
// connection holds them for its whole life, and the reader is their only
// user (no lock).
type rateLimits struct {
	frames, bytes tokenBucket // Config.FramesPerSecond / FrameBurst, BytesPerSecond / ByteBurst
	windowStart   time.Time   // start of the current refusal-count window
	refusals      int         // refusals in the current window
}

// allow takes one frame of n bytes from the buckets (a limit of 0 or less:
// none). It returns the limit that refused it, or "".
func (l *rateLimits) allow(cfg *Config, now time.Time, n int) string {
	if cfg.FramesPerSecond > 0 && !l.frames.take(now, float64(cfg.FramesPerSecond), float64(max(cfg.FrameBurst, 1)), 1) {
		return limitFrameRate
	}
	if cfg.BytesPerSecond > 0 && !l.bytes.take(now, float64(cfg.BytesPerSecond), float64(cfg.ByteBurst), float64(n)) {
		return limitByteRate
	}
	return ""
}

// tokenBucket is a token bucket with the semantics of
// golang.org/x/time/rate.Limiter.AllowN: it starts full, refills at rate
// tokens per second up to burst, and a take of more tokens than it holds
// (or than burst) fails without taking any.
type tokenBucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill; 0: never used (full)
}

func (b *tokenBucket) take(now time.Time, rate, burst, n float64) bool {
	t := now.UnixNano()
	tokens := burst
	if b.last != 0 {
		last := min(b.last, t) // a clock that went back refills nothing
		tokens = min(burst, b.tokens+time.Duration(t-last).Seconds()*rate)
	}
	if n > tokens {
		return false // as rate.Limiter: nothing changes
	}
	b.tokens, b.last = tokens-n, t
	return true
}

// throttle answers a frame the rate limits refused: Presence and Drag are
// dropped silently (they are ephemeral, and the next one supersedes them);
// a Delta or Operation gets a retryable RATE_LIMITED Nack, anything else a
// RATE_LIMITED Error. Every refusal counts, a silent drop too, so a flood of
// any frame type ends the session: it returns CloseRateLimited when the
// session has had MaxRateLimitRefusals refusals within rateLimitWindow.
func (s *session) throttle(f protocol.Frame, limit string) protocol.CloseCode {
	s.h.metrics.refused(limit)
	msg := "too many frames per second; slow down"
	if limit == limitByteRate {
		msg = "too many bytes per second; slow down"
	}
	switch f := f.(type) {
	case *protocol.Presence, *protocol.Drag:
		s.h.metrics.ephemeralDropped()
	case *protocol.Delta:
		s.nack(f.OpID, protocol.NewError(protocol.CodeRateLimited, "%s", msg))
	case *protocol.Operation:
		s.nack(f.OpID, protocol.NewError(protocol.CodeRateLimited, "%s", msg))
	case *protocol.Vouch:
		s.nack(f.OpID, protocol.NewError(protocol.CodeRateLimited, "%s", msg))
	default:
		e := protocol.NewError(protocol.CodeRateLimited, "%s", msg)
		switch f := f.(type) {
		case *protocol.Join:
			e.WorkflowID = f.WorkflowID
		case *protocol.Leave:
			e.WorkflowID = f.WorkflowID
		}
		s.send(e)
	}
	l := &s.limits
	if now := time.Now(); now.Sub(l.windowStart) > rateLimitWindow {
		l.windowStart, l.refusals = now, 0
	}
	if l.refusals++; l.refusals >= s.h.cfg.MaxRateLimitRefusals {
		s.logger().Info("closing session: rate limited", "refusals", l.refusals)
		return protocol.CloseRateLimited
	}
	return 0
}
