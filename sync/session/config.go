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
	// past either, the session is closed as a slow consumer. A catch-up
	// chunk larger than the bound is still sent when the queue is empty.
	// Defaults: 1 MiB and 256 frames.
	MaxQueueBytes  int
	MaxQueueFrames int
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
	// ServerVersion is announced in Welcome.sv. Default: empty.
	ServerVersion string
	// Now is the server clock (Welcome.now). Default: time.Now.
	Now func() time.Time
}

// Defaults; see Config.
const (
	DefaultAuthTimeout      = 5 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPongTimeout      = 60 * time.Second
	DefaultCloseGrace       = time.Second
	DefaultMaxQueueBytes    = 1 << 20
	DefaultMaxQueueFrames   = 256
	DefaultMaxInvalidFrames = 10
	DefaultMaxClockSkew     = 5 * time.Minute
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
	if c.MaxInvalidFrames == 0 {
		c.MaxInvalidFrames = DefaultMaxInvalidFrames
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.Now == nil {
		c.Now = time.Now
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
