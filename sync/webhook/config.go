package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// Config configures a Dispatcher. URLs, Secret and QueuePath are required;
// every other zero field means its default.
type Config struct {
	// URLs receive every event (each its own queue record, retried on its
	// own). http or https.
	URLs []string
	// Secret signs every request (see Sign); at least MinSecretBytes.
	Secret []byte
	// QueuePath is the bbolt file holding undelivered events and open
	// debounce windows. One process at a time may open it.
	QueuePath string
	// Workflows, when not empty, limits change and lifecycle events to
	// these workflow ids.
	Workflows []string
	// Quiet is how long a workflow must go without edits before its change
	// event is sent; MaxDelay bounds the wait from its first edit, so a
	// workflow under constant editing still reports every MaxDelay.
	// Defaults: 2 s and 30 s.
	Quiet, MaxDelay time.Duration
	// IncludeView puts the workflow's view in change events. Default: off
	// (a view can be large; the receiver can GET it from the admin API).
	IncludeView bool
	// View reads a workflow's current view, for the change summary and
	// IncludeView (*rooms.Registry.View). Nil: events carry no summary.
	View func(ctx context.Context, workflowID string) (*workflow.View, error)
	// MaxQueue bounds the queued deliveries; an event that would pass it
	// is dropped and counted (flowsync_webhook_dropped_total{reason=
	// "queue_full"}). Default: 10,000.
	MaxQueue int
	// MaxAttempts and MaxAge bound the retries of one delivery; past
	// either it is dropped and counted (reason "expired"). Defaults: 20
	// and 24 h.
	MaxAttempts int
	MaxAge      time.Duration
	// RetryBase and RetryMax bound the exponential backoff between
	// attempts (each wait is drawn from [b/2, b), b doubling from
	// RetryBase up to RetryMax). Defaults: 1 s and 10 min.
	RetryBase, RetryMax time.Duration
	// Timeout bounds one HTTP attempt. Default: 10 s.
	Timeout time.Duration
	// Workers is how many deliveries run at once. Default: 4.
	Workers int
	// Client sends the requests. Default: a client with no redirects
	// followed (a redirect is a failed attempt, not a resend elsewhere).
	Client *http.Client
	// Metrics records the dispatcher's work; nil records nothing.
	Metrics *Metrics
	// Logger receives delivery failures. Default: discard.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// MinSecretBytes is the shortest Config.Secret accepted.
const MinSecretBytes = 32

// Defaults of Config.
const (
	DefaultQuiet       = 2 * time.Second
	DefaultMaxDelay    = 30 * time.Second
	DefaultMaxQueue    = 10_000
	DefaultMaxAttempts = 20
	DefaultMaxAge      = 24 * time.Hour
	DefaultRetryBase   = time.Second
	DefaultRetryMax    = 10 * time.Minute
	DefaultTimeout     = 10 * time.Second
	DefaultWorkers     = 4
)

func (c Config) validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("webhook: no URL"))
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("webhook: URL %q is not an http or https URL", u))
		}
	}
	if len(c.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("webhook: the secret must be at least %d bytes", MinSecretBytes))
	}
	if c.QueuePath == "" {
		errs = append(errs, errors.New("webhook: no queue path"))
	}
	for name, d := range map[string]time.Duration{"Quiet": c.Quiet, "MaxDelay": c.MaxDelay, "MaxAge": c.MaxAge,
		"RetryBase": c.RetryBase, "RetryMax": c.RetryMax, "Timeout": c.Timeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("webhook: %s must not be negative", name))
		}
	}
	if c.MaxQueue < 0 || c.MaxAttempts < 0 || c.Workers < 0 {
		errs = append(errs, errors.New("webhook: MaxQueue, MaxAttempts and Workers must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	num := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.Quiet, DefaultQuiet)
	dur(&c.MaxDelay, max(DefaultMaxDelay, c.Quiet))
	dur(&c.MaxAge, DefaultMaxAge)
	dur(&c.RetryBase, DefaultRetryBase)
	dur(&c.RetryMax, max(DefaultRetryMax, c.RetryBase))
	dur(&c.Timeout, DefaultTimeout)
	num(&c.MaxQueue, DefaultMaxQueue)
	num(&c.MaxAttempts, DefaultMaxAttempts)
	num(&c.Workers, DefaultWorkers)
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
