package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures Open. Every zero field means its documented default;
// only URL is required. The pool settings are set explicitly, not left to
// the driver, and logged at Open, so that what a node runs with is known
// and does not change with a driver upgrade.
type Config struct {
	// URL is the Postgres connection string (postgres://user@host:port/db?...),
	// or key=value DSN. Settings in it (pool_max_conns and the like) are
	// overridden by the fields below. Required.
	URL string
	// MaxConns caps the pool. Default: 10.
	MaxConns int32
	// ConnectTimeout bounds establishing one connection. Default: 5 s.
	ConnectTimeout time.Duration
	// StatementTimeout is the server-side statement_timeout of every
	// connection; a statement hitting it fails and is not retried. Default:
	// 30 s (snapshots of the largest documents take well under a second).
	StatementTimeout time.Duration
	// HealthCheckPeriod is how often idle connections are checked.
	// Default: 30 s.
	HealthCheckPeriod time.Duration
	// MaxConnLifetime recycles connections (so a failover or a DNS change
	// is picked up). Default: 1 h.
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes connections idle this long. Default: 5 min.
	MaxConnIdleTime time.Duration
	// MaxAttempts is how many times one operation is tried when it fails
	// with a transient error (connection lost, server shutting down or
	// starting, serialization failure). Every write of this store is
	// idempotent, so a retry after an unknown outcome is safe. The caller
	// (the room's writer) retries further with its own backoff; this only
	// hides blips. Default: 3. Set 1 to disable.
	MaxAttempts int
	// RetryMin and RetryMax bound the exponential backoff, with jitter,
	// between attempts. Defaults: 100 ms and 10 s.
	RetryMin, RetryMax time.Duration
	// ReadOnly opens the store for reading only (operators' tools): no
	// migration is applied, Open fails with ErrSchema unless the database
	// holds exactly this build's migrations, and every connection runs
	// with default_transaction_read_only, so the server refuses any write.
	ReadOnly bool
	// Logger receives startup and retry lines, never document contents.
	// Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxConns == 0 {
		c.MaxConns = 10
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = 30 * time.Second
	}
	if c.HealthCheckPeriod == 0 {
		c.HealthCheckPeriod = 30 * time.Second
	}
	if c.MaxConnLifetime == 0 {
		c.MaxConnLifetime = time.Hour
	}
	if c.MaxConnIdleTime == 0 {
		c.MaxConnIdleTime = 5 * time.Minute
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a config after defaults; errors name the field.
func (c Config) validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("URL is required"))
	} else if _, err := pgxpool.ParseConfig(c.URL); err != nil {
		// The parse error may quote the URL, password included: do not wrap it.
		errs = append(errs, errors.New("URL does not parse as a Postgres connection string"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("MaxConns %d is negative", c.MaxConns))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConnectTimeout", c.ConnectTimeout}, {"StatementTimeout", c.StatementTimeout},
		{"HealthCheckPeriod", c.HealthCheckPeriod}, {"MaxConnLifetime", c.MaxConnLifetime},
		{"MaxConnIdleTime", c.MaxConnIdleTime}, {"RetryMin", c.RetryMin}, {"RetryMax", c.RetryMax}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	if c.StatementTimeout > 0 && c.StatementTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("StatementTimeout %v is under 1 ms", c.StatementTimeout))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("MaxAttempts %d is negative", c.MaxAttempts))
	}
	if c.RetryMin > c.RetryMax {
		errs = append(errs, fmt.Errorf("RetryMin %v exceeds RetryMax %v", c.RetryMin, c.RetryMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("postgres: config: %w", err)
	}
	return nil
}
