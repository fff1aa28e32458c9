package session

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Config configures a Handler. The zero Config is valid: every zero field
// means its documented default.
type Config struct {
	// MaxFrameBytes is the websocket read limit; a larger message is
	// closed with 1009. Default: protocol.DefaultMaxFrameBytes (1 MiB).
	MaxFrameBytes int
	// AuthTimeout is how long a connection may take to send its Hello
	// (close 4001). Default: 5 s.
	AuthTimeout time.Duration
	// WriteTimeout is the deadline of every write (close 4002 when it
	// passes). Default: 10 s.
	WriteTimeout time.Duration
	// PongTimeout is how long the connection may stay silent (no frame, no
	// pong) before it is dropped. Default: 60 s.
	PongTimeout time.Duration
	// PingInterval is how often the writer pings. Default: 9/10 of
	// PongTimeout (54 s).
	PingInterval time.Duration
	// CloseGrace is how long the server waits for the client's close reply
	// (and then drains unread input) before dropping the TCP connection.
	// Default: 1 s.
	CloseGrace time.Duration
	// MaxQueueBytes and MaxQueueFrames bound a session's outbound queue;
	// past either, the session is closed as a slow consumer. A Join's
	// catch-up chunks wait outside the queue and go out at most a queue's
	// worth per flush (a chunk larger than the bound alone), so a catch-up
	// never takes the room the room's other frames need. The answers to
	// the client's own submissions do not close it: the reader stops
	// reading while the queue is past half its bounds or MaxQueueFrames/8
	// submissions await an answer (backpressure).
	// Defaults: 1 MiB and 256 frames.
	MaxQueueBytes  int
	MaxQueueFrames int
	// FlushInterval is the shortest time between two flushes of a busy
	// connection's outbound queue. A frame queued while nothing is being
	// written goes out at once; when frames were queued while a flush was
	// under way, or have been coming at 4 or more per FlushInterval, the
	// writer waits out the rest of FlushInterval since the last flush (or
	// until a quarter of either queue bound, 64 KiB at most, waits) and
	// the frames queued meanwhile go out together in one write.
	// Each write costs a syscall and the kernel's TCP work, far more than
	// the frame itself, so under load this trades at most FlushInterval of
	// delivery latency for far less server CPU per frame, while sparse
	// traffic is not delayed. A close (slow consumer, shutdown, token
	// expiry) also waits out the interval, so keep it to milliseconds; at
	// most 1 s. A session speaking Acks also holds the ids of Applied
	// frames up to twice FlushInterval for a frame to ride with (the
	// Durable of the same edits, typically). -1: flush as soon as frames
	// are queued, busy or not, and hold no Applied ids. Default: 10 ms.
	FlushInterval time.Duration
	// MaxInvalidFrames is how many undecodable or misdirected frames a
	// session may send (each answered with an Error) before it is closed
	// with 4504. Default: 10.
	MaxInvalidFrames int
	// AllowedOrigins lists the browser origins ("https://app.example.com",
	// scheme://host[:port], compared case-insensitively) allowed to open a
	// websocket. Requests without an Origin header (non-browser clients)
	// are allowed. When the list is empty only same-host origins are
	// allowed (the Origin's host equals the request's Host). Default: empty.
	AllowedOrigins []string
	// MaxClockSkew is announced in Welcome.lim.skew; the rooms enforce it
	// and should be configured with the same value. Default: 5 minutes.
	MaxClockSkew time.Duration
	// MaxClockLag is announced in Welcome.lim.lag; the rooms enforce it
	// (rooms.Config.MaxClockLag) and should be configured with the same
	// value. -1: no bound (not announced). Default: 400 days.
	MaxClockLag time.Duration
	// MaxRoomsPerSession caps the rooms one session is in at once; a Join
	// over it gets Error TOO_MANY_ROOMS, and a Leave frees the slot.
	// Announced in Welcome.lim.rooms. -1: no cap. Default: 64.
	MaxRoomsPerSession int
	// MaxRoomsPerUser caps the rooms all sessions of one user id are in at
	// once (a room joined by two sessions counts twice); a Join over it
	// gets Error TOO_MANY_ROOMS. -1: no cap. Default: 256.
	MaxRoomsPerUser int
	// ServerVersion is announced in Welcome.sv. Default: empty.
	ServerVersion string
	// Now is the server clock (Welcome.now). Default: time.Now.
	Now func() time.Time

	// MaxConnections caps the open websockets of the server; an upgrade
	// over it is refused with HTTP 503 before upgrading. -1: no cap.
	// Default: 10,000.
	MaxConnections int
	// MaxConnectionsPerIP caps the open websockets from one client address
	// (IPv6: one /64); an upgrade over it is refused with HTTP 429 before
	// upgrading. -1: no cap. Default: 100.
	MaxConnectionsPerIP int
	// MaxConnectionsPerUser caps the authenticated sessions of one user
	// id; the Hello over it is answered with Error OVERLOADED and close
	// 4005. -1: no cap. Default: 50.
	MaxConnectionsPerUser int
	// ConnectionsPerMinutePerIP and ConnectionBurstPerIP limit how fast
	// one client address (IPv6: one /64, as MaxConnectionsPerIP) may
	// attempt websocket upgrades: a token bucket per address, taken by
	// every attempt, refused with HTTP 429 and Retry-After before
	// upgrading. The burst lets an address reopen all the connections
	// MaxConnectionsPerIP lets it hold at once (a server restart); the rate
	// is far above what one browser reconnecting with backoff attempts.
	// Idle buckets are dropped and the table is capped at 65,536
	// addresses. -1 (ConnectionsPerMinutePerIP): no limit. Defaults: 15
	// per minute and a burst of 100.
	ConnectionsPerMinutePerIP float64
	ConnectionBurstPerIP      int
	// ConnectionRateSkipsLoopback exempts loopback addresses from the
	// connection-rate limit (the server sets it in development mode, where
	// one developer's tools reconnect from 127.0.0.1 all day). Default:
	// false.
	ConnectionRateSkipsLoopback bool
	// TrustProxyHeaders takes the client address from the last entry of
	// X-Forwarded-For (the one the proxy in front appended) instead of the
	// TCP peer. Set it only behind exactly one trusted proxy that appends
	// to X-Forwarded-For. Default: false.
	TrustProxyHeaders bool
	// FramesPerSecond and FrameBurst limit the frames a session may send
	// (a token bucket per connection, golang.org/x/time/rate). Announced in
	// Welcome.lim.ops and .burst. -1 (FramesPerSecond): no limit. Defaults:
	// 50 and 200.
	FramesPerSecond float64
	FrameBurst      int
	// BytesPerSecond and ByteBurst limit the message bytes a session may
	// send. The burst is raised to MaxFrameBytes if lower. -1
	// (BytesPerSecond): no limit. Defaults: 1 MiB and 2 MiB.
	BytesPerSecond int
	ByteBurst      int
	// MaxRateLimitRefusals is how many frames a session may have refused
	// by the rate limits within 10 s before it is closed with 4006. Every
	// frame type counts, Presence and Drag frames dropped silently too: a
	// flood of any frame is cut, not just thinned. Default: 100.
	MaxRateLimitRefusals int
	// GrantOverrideTTL is how long a role change made with Handler.SetRole
	// or SetGrants is remembered for new sessions whose token was issued
	// before the change. Keep it at least the longest token lifetime
	// (JWTConfig.MaxLifetime). Default: 24 h.
	GrantOverrideTTL time.Duration
}

// Defaults; see Config.
const (
	DefaultAuthTimeout        = 5 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultPongTimeout        = 60 * time.Second
	DefaultCloseGrace         = time.Second
	DefaultMaxQueueBytes      = 1 << 20
	DefaultMaxQueueFrames     = 256
	DefaultFlushInterval      = 10 * time.Millisecond
	DefaultMaxInvalidFrames   = 10
	DefaultMaxClockSkew       = 5 * time.Minute
	DefaultMaxClockLag        = 400 * 24 * time.Hour
	DefaultMaxRoomsPerSession = 64
	DefaultMaxRoomsPerUser    = 256

	DefaultMaxConnections        = 10_000
	DefaultMaxConnectionsPerIP   = 100
	DefaultMaxConnectionsPerUser = 50
	DefaultConnectionsPerMinute  = 15
	DefaultConnectionBurstPerIP  = 100
	DefaultFramesPerSecond       = 50
	DefaultFrameBurst            = 200
	DefaultBytesPerSecond        = 1 << 20
	DefaultByteBurst             = 2 << 20
	DefaultMaxRateLimitRefusals  = 100
	DefaultGrantOverrideTTL      = 24 * time.Hour

	// maxFlushInterval bounds Config.FlushInterval: a close waits it out.
	maxFlushInterval = time.Second

	// rateLimitWindow is the window MaxRateLimitRefusals counts in.
	rateLimitWindow = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = c.PongTimeout * 9 / 10
	}
	if c.CloseGrace == 0 {
		c.CloseGrace = DefaultCloseGrace
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.MaxQueueFrames == 0 {
		c.MaxQueueFrames = DefaultMaxQueueFrames
	}
	switch c.FlushInterval {
	case 0:
		c.FlushInterval = DefaultFlushInterval
	case -1:
		c.FlushInterval = 0
	}
	if c.MaxInvalidFrames == 0 {
		c.MaxInvalidFrames = DefaultMaxInvalidFrames
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.MaxClockLag == 0 {
		c.MaxClockLag = DefaultMaxClockLag
	}
	if c.MaxRoomsPerSession == 0 {
		c.MaxRoomsPerSession = DefaultMaxRoomsPerSession
	}
	if c.MaxRoomsPerUser == 0 {
		c.MaxRoomsPerUser = DefaultMaxRoomsPerUser
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if c.MaxConnectionsPerUser == 0 {
		c.MaxConnectionsPerUser = DefaultMaxConnectionsPerUser
	}
	if c.ConnectionsPerMinutePerIP == 0 {
		c.ConnectionsPerMinutePerIP = DefaultConnectionsPerMinute
	}
	if c.ConnectionBurstPerIP == 0 {
		c.ConnectionBurstPerIP = DefaultConnectionBurstPerIP
	}
	if c.FramesPerSecond == 0 {
		c.FramesPerSecond = DefaultFramesPerSecond
	}
	if c.FrameBurst == 0 {
		c.FrameBurst = DefaultFrameBurst
	}
	if c.BytesPerSecond == 0 {
		c.BytesPerSecond = DefaultBytesPerSecond
	}
	if c.ByteBurst == 0 {
		c.ByteBurst = DefaultByteBurst
	}
	c.ByteBurst = max(c.ByteBurst, c.MaxFrameBytes)
	if c.MaxRateLimitRefusals == 0 {
		c.MaxRateLimitRefusals = DefaultMaxRateLimitRefusals
	}
	if c.GrantOverrideTTL == 0 {
		c.GrantOverrideTTL = DefaultGrantOverrideTTL
	}
	return c
}

// validate names the first unusable field.
func (c Config) validate() error {
	var errs []error
	neg := func(name string, bad bool) {
		if bad {
			errs = append(errs, fmt.Errorf("session: Config.%s must not be negative", name))
		}
	}
	neg("MaxFrameBytes", c.MaxFrameBytes < 0)
	neg("AuthTimeout", c.AuthTimeout < 0)
	neg("WriteTimeout", c.WriteTimeout < 0)
	neg("PongTimeout", c.PongTimeout < 0)
	neg("PingInterval", c.PingInterval < 0)
	neg("CloseGrace", c.CloseGrace < 0)
	neg("MaxQueueBytes", c.MaxQueueBytes < 0)
	neg("MaxQueueFrames", c.MaxQueueFrames < 0)
	neg("MaxInvalidFrames", c.MaxInvalidFrames < 0)
	neg("MaxClockSkew", c.MaxClockSkew < 0)
	neg("FrameBurst", c.FrameBurst < 0)
	neg("ConnectionBurstPerIP", c.ConnectionBurstPerIP < 0)
	neg("ByteBurst", c.ByteBurst < 0)
	neg("MaxRateLimitRefusals", c.MaxRateLimitRefusals < 0)
	neg("GrantOverrideTTL", c.GrantOverrideTTL < 0)
	noLimit := func(name string, bad bool) {
		if bad {
			errs = append(errs, fmt.Errorf("session: Config.%s must be positive, or -1 for no limit", name))
		}
	}
	noLimit("MaxConnections", c.MaxConnections < -1)
	noLimit("MaxConnectionsPerIP", c.MaxConnectionsPerIP < -1)
	noLimit("MaxConnectionsPerUser", c.MaxConnectionsPerUser < -1)
	noLimit("MaxRoomsPerSession", c.MaxRoomsPerSession < -1)
	noLimit("MaxRoomsPerUser", c.MaxRoomsPerUser < -1)
	noLimit("MaxClockLag", c.MaxClockLag < 0 && c.MaxClockLag != -1)
	noLimit("ConnectionsPerMinutePerIP", c.ConnectionsPerMinutePerIP < 0 && c.ConnectionsPerMinutePerIP != -1)
	noLimit("FramesPerSecond", c.FramesPerSecond < 0 && c.FramesPerSecond != -1)
	noLimit("BytesPerSecond", c.BytesPerSecond < -1)
	if (c.FlushInterval < 0 && c.FlushInterval != -1) || c.FlushInterval > maxFlushInterval {
		errs = append(errs, errors.New("session: Config.FlushInterval must be between 0 and 1 s, or -1 to flush at once"))
	}
	if c.MaxFrameBytes > 0 && c.MaxFrameBytes < 1024 {
		errs = append(errs, errors.New("session: Config.MaxFrameBytes must be at least 1024"))
	}
	if d := c.withDefaults(); d.PingInterval >= d.PongTimeout {
		errs = append(errs, errors.New("session: Config.PingInterval must be shorter than PongTimeout"))
	}
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || o == "*" {
			errs = append(errs, fmt.Errorf("session: Config.AllowedOrigins: %q is not an origin like https://app.example.com", o))
		}
	}
	return errors.Join(errs...)
}

// normalizeOrigin lower-cases an origin and drops a trailing slash.
func normalizeOrigin(o string) string { return strings.TrimSuffix(strings.ToLower(o), "/") }
