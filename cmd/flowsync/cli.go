package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flowsync/flowsync/internal/buildinfo"
	"github.com/flowsync/flowsync/sync/history"
	"github.com/flowsync/flowsync/sync/receipt"
	"github.com/flowsync/flowsync/sync/server"
)

// version may be set at link time with -ldflags "-X main.version=…"; by
// default the module version and VCS stamps of the build info are reported
// (internal/buildinfo).
var version = "dev"

const usage = `usage: flowsync <command> [flags]

commands:
  serve     run the sync server (flowsync serve -h for flags)
  version   print the version, commit and its date, and Go version (also --version)
  inspect   list the workflows of a --data-dir (server stopped) or --postgres-url: sizes,
            last change; verifies checksums (exit 1 on damage)
  export    write one workflow: --workflow ID [--format json|binary|reference]
  import    write one workflow: --workflow ID [--in FILE] [--format binary|reference]
            (binary: joined; reference: a workflow state JSON replacing the content)
`

// run is the whole command; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runWithInput(ctx, args, getenv, os.Stdin, stdout, stderr)
}

// runWithInput is run with import's standard input.
func runWithInput(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, buildinfo.Read(version))
		return 0
	case "serve":
		cfg, level, err := parseServe(args[1:], getenv, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		logger := server.NewLogger(stderr, level)
		srv, err := server.New(cfg, logger, nil)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if err := srv.Run(ctx); err != nil {
			logger.Error("flowsync exited with an error", "err", err)
			return 1
		}
		return 0
	case "inspect", "export", "import":
		return runTool(ctx, args[0], args[1:], getenv, stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "flowsync: unknown command %q\n%s", args[0], usage)
	return 2
}

// parseServe reads the serve flags; each defaults to its environment
// variable, then to the built-in default.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (server.Config, slog.Level, error) {
	fs := flag.NewFlagSet("flowsync serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv("FLOWSYNC_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			return v
		}
		return def
	}
	var envErrs []error
	envBool := func(name string, def bool) bool {
		v := env(name, strconv.FormatBool(def))
		b, err := strconv.ParseBool(v)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("flowsync: FLOWSYNC_%s=%q is not a boolean", strings.ToUpper(strings.ReplaceAll(name, "-", "_")), v))
		}
		return b
	}
	envInt := func(name string, def int) int {
		v := env(name, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("flowsync: FLOWSYNC_%s=%q is not an integer", strings.ToUpper(strings.ReplaceAll(name, "-", "_")), v))
		}
		return n
	}
	envDur := func(name string, def time.Duration) time.Duration {
		v := env(name, def.String())
		d, err := time.ParseDuration(v)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("flowsync: FLOWSYNC_%s=%q is not a duration", strings.ToUpper(strings.ReplaceAll(name, "-", "_")), v))
		}
		return d
	}

	var cfg server.Config
	var origins, logLevel string
	fs.StringVar(&cfg.Addr, "addr", env("addr", ""), "listen address; default :8080, and 127.0.0.1:8080 with --dev (FLOWSYNC_ADDR)")
	fs.BoolVar(&cfg.Dev, "dev", envBool("dev", false), "development mode: no authentication, every token accepted (FLOWSYNC_DEV)")
	fs.StringVar(&cfg.DevRole, "dev-role", env("dev-role", "admin"), "role of every session in development mode: read, write or admin (FLOWSYNC_DEV_ROLE)")
	fs.StringVar(&origins, "allowed-origins", env("allowed-origins", ""), "comma-separated browser origins allowed to connect; empty: same host only (FLOWSYNC_ALLOWED_ORIGINS)")
	fs.StringVar(&logLevel, "log-level", env("log-level", "info"), "debug, info, warn or error (FLOWSYNC_LOG_LEVEL)")
	fs.IntVar(&cfg.Session.MaxFrameBytes, "max-frame-bytes", envInt("max-frame-bytes", 1<<20), "largest websocket message accepted; larger ones close with 1009 (FLOWSYNC_MAX_FRAME_BYTES)")
	fs.IntVar(&cfg.Session.MaxQueueBytes, "max-queue-bytes", envInt("max-queue-bytes", 1<<20), "outbound queue bound per session in bytes; past it the session is closed as a slow consumer (FLOWSYNC_MAX_QUEUE_BYTES)")
	fs.IntVar(&cfg.Session.MaxQueueFrames, "max-queue-frames", envInt("max-queue-frames", 256), "outbound queue bound per session in frames (FLOWSYNC_MAX_QUEUE_FRAMES)")
	fs.DurationVar(&cfg.Session.AuthTimeout, "auth-timeout", envDur("auth-timeout", 5*time.Second), "time allowed for the Hello frame (FLOWSYNC_AUTH_TIMEOUT)")
	fs.IntVar(&cfg.Session.MaxConnections, "max-connections", envInt("max-connections", 10_000), "open websockets on this server; -1: no cap (FLOWSYNC_MAX_CONNECTIONS)")
	fs.IntVar(&cfg.Session.MaxConnectionsPerIP, "max-connections-per-ip", envInt("max-connections-per-ip", 100), "open websockets per client address (IPv6: per /64); -1: no cap (FLOWSYNC_MAX_CONNECTIONS_PER_IP)")
	fs.IntVar(&cfg.Session.MaxConnectionsPerUser, "max-connections-per-user", envInt("max-connections-per-user", 50), "authenticated sessions per user; -1: no cap (FLOWSYNC_MAX_CONNECTIONS_PER_USER)")
	connectionsPerMinute := fs.Int("connections-per-minute-per-ip", envInt("connections-per-minute-per-ip", 15), "websocket upgrade attempts per minute per client address (IPv6: per /64), refused with 429 and Retry-After; -1: no limit; loopback is exempt with --dev (FLOWSYNC_CONNECTIONS_PER_MINUTE_PER_IP)")
	fs.IntVar(&cfg.Session.ConnectionBurstPerIP, "connection-burst-per-ip", envInt("connection-burst-per-ip", 100), "burst of upgrade attempts per client address above the rate (FLOWSYNC_CONNECTION_BURST_PER_IP)")
	fs.BoolVar(&cfg.Session.TrustProxyHeaders, "trust-proxy-headers", envBool("trust-proxy-headers", false), "take the client address from X-Forwarded-For (only behind exactly one trusted proxy) (FLOWSYNC_TRUST_PROXY_HEADERS)")
	framesPerSecond := fs.Int("frames-per-second", envInt("frames-per-second", 50), "frames a session may send per second; -1: no limit (FLOWSYNC_FRAMES_PER_SECOND)")
	fs.IntVar(&cfg.Session.FrameBurst, "frame-burst", envInt("frame-burst", 200), "burst of frames above the rate (FLOWSYNC_FRAME_BURST)")
	fs.IntVar(&cfg.Session.BytesPerSecond, "bytes-per-second", envInt("bytes-per-second", 1<<20), "message bytes a session may send per second; -1: no limit (FLOWSYNC_BYTES_PER_SECOND)")
	fs.IntVar(&cfg.Session.ByteBurst, "byte-burst", envInt("byte-burst", 2<<20), "burst of bytes above the rate (FLOWSYNC_BYTE_BURST)")
	fs.IntVar(&cfg.Session.MaxRateLimitRefusals, "max-rate-limit-refusals", envInt("max-rate-limit-refusals", 100), "rate-limit refusals (dropped Presence and Drag frames included) within 10 s before a session is closed with 4006 (FLOWSYNC_MAX_RATE_LIMIT_REFUSALS)")
	fs.DurationVar(&cfg.Session.GrantOverrideTTL, "grant-override-ttl", envDur("grant-override-ttl", 24*time.Hour), "how long a role change from the admin API is remembered for older tokens; at least the longest token lifetime (FLOWSYNC_GRANT_OVERRIDE_TTL)")
	fs.DurationVar(&cfg.Rooms.MaxClockSkew, "max-clock-skew", envDur("max-clock-skew", 5*time.Minute), "how far a delta's clock may lead the server's (FLOWSYNC_MAX_CLOCK_SKEW)")
	maxClockLag := fs.Duration("max-clock-lag", envDur("max-clock-lag", 400*24*time.Hour), "how far behind the server's clock an edit the server has not seen may be stamped (offline editors send edits stamped when made); 0: no bound (FLOWSYNC_MAX_CLOCK_LAG)")
	fs.IntVar(&cfg.Session.MaxRoomsPerSession, "max-rooms-per-session", envInt("max-rooms-per-session", 64), "rooms one session may be in at once; a Join over it gets TOO_MANY_ROOMS; -1: no cap (FLOWSYNC_MAX_ROOMS_PER_SESSION)")
	fs.IntVar(&cfg.Session.MaxRoomsPerUser, "max-rooms-per-user", envInt("max-rooms-per-user", 256), "rooms all sessions of one user may be in at once; -1: no cap (FLOWSYNC_MAX_ROOMS_PER_USER)")
	fs.IntVar(&cfg.Rooms.MaxMembers, "max-room-members", envInt("max-room-members", 1000), "sessions one room takes on this node; a Join over it gets a retryable OVERLOADED; -1: no cap (FLOWSYNC_MAX_ROOM_MEMBERS)")
	fs.IntVar(&cfg.Rooms.MaxDocumentBytes, "max-document-bytes", envInt("max-document-bytes", 48<<20), "largest encoded size a document may grow to; an edit past it gets TOO_LARGE; at most 64 MiB (what a snapshot may decode to); -1: no bound (FLOWSYNC_MAX_DOCUMENT_BYTES)")
	fs.BoolVar(&cfg.Rooms.RequireExisting, "require-existing-workflows", envBool("require-existing-workflows", false), "refuse joins of workflows never created (admin API PUT /admin/v1/workflows/{id}) nor written, with UNKNOWN_WORKFLOW (FLOWSYNC_REQUIRE_EXISTING_WORKFLOWS)")
	fs.DurationVar(&cfg.Rooms.IdleTimeout, "room-idle-timeout", envDur("room-idle-timeout", time.Minute), "how long an empty room stays loaded (FLOWSYNC_ROOM_IDLE_TIMEOUT)")
	fs.IntVar(&cfg.Rooms.MaxCatchUpChunk, "max-catchup-chunk", envInt("max-catchup-chunk", 256<<10), "largest catch-up chunk in bytes (FLOWSYNC_MAX_CATCHUP_CHUNK)")
	fs.StringVar(&cfg.Store.Kind, "store", env("store", "auto"), "where documents live: auto (postgres if --postgres-url is set, else bolt), bolt, postgres, or memory (tests only: lost on exit) (FLOWSYNC_STORE)")
	fs.StringVar(&cfg.Store.DataDir, "data-dir", env("data-dir", server.DefaultDataDir), "directory of the embedded store's file ("+server.BoltFile+"), used without a Postgres URL (FLOWSYNC_DATA_DIR)")
	fs.StringVar(&cfg.Store.PostgresURL, "postgres-url", env("postgres-url", ""), "Postgres connection URL; selects the Postgres store (FLOWSYNC_POSTGRES_URL)")
	var pgMaxConns int
	fs.IntVar(&pgMaxConns, "postgres-max-conns", envInt("postgres-max-conns", 10), "Postgres pool size (FLOWSYNC_POSTGRES_MAX_CONNS)")
	fs.DurationVar(&cfg.Store.Postgres.ConnectTimeout, "postgres-connect-timeout", envDur("postgres-connect-timeout", 5*time.Second), "Postgres connect timeout (FLOWSYNC_POSTGRES_CONNECT_TIMEOUT)")
	fs.DurationVar(&cfg.Store.Postgres.StatementTimeout, "postgres-statement-timeout", envDur("postgres-statement-timeout", 30*time.Second), "Postgres statement_timeout (FLOWSYNC_POSTGRES_STATEMENT_TIMEOUT)")
	fs.DurationVar(&cfg.Rooms.SnapshotInterval, "snapshot-interval", envDur("snapshot-interval", time.Second), "snapshot a changed document after this long without changes (FLOWSYNC_SNAPSHOT_INTERVAL)")
	fs.DurationVar(&cfg.Rooms.SnapshotMaxDelay, "snapshot-max-delay", envDur("snapshot-max-delay", 10*time.Second), "and at the latest this long after its first unsnapshotted change (FLOWSYNC_SNAPSHOT_MAX_DELAY)")
	fs.IntVar(&cfg.Rooms.MaxPendingBytes, "max-pending-bytes", envInt("max-pending-bytes", 64<<20), "per room, merged deltas waiting for the store; past it edits get a retryable STORAGE_UNAVAILABLE (FLOWSYNC_MAX_PENDING_BYTES)")
	fs.StringVar(&cfg.Cluster.NATSURL, "nats-url", env("nats-url", ""), "NATS URL(s), comma-separated, joining this node to the others serving the same documents; empty: single node (FLOWSYNC_NATS_URL)")
	fs.StringVar(&cfg.Cluster.NATSCreds, "nats-creds", env("nats-creds", ""), "NATS credentials file (FLOWSYNC_NATS_CREDS)")
	fs.StringVar(&cfg.Cluster.NodeID, "node-id", env("node-id", ""), "this node's id on the bus, unique across regions; default: random per process (FLOWSYNC_NODE_ID)")
	fs.StringVar(&cfg.Cluster.Region, "region", env("region", ""), "region label for logs (FLOWSYNC_REGION)")
	fs.StringVar(&cfg.Cluster.StoreGroup, "store-group", env("store-group", ""), "NATS queue group shared by the nodes that share this node's store (e.g. one Postgres); default: the node id (FLOWSYNC_STORE_GROUP)")
	fs.DurationVar(&cfg.Cluster.AntiEntropyInterval, "anti-entropy-interval", envDur("anti-entropy-interval", 5*time.Second), "mean time between anti-entropy rounds (FLOWSYNC_ANTI_ENTROPY_INTERVAL)")
	fs.DurationVar(&cfg.Cluster.PresenceHeartbeat, "presence-heartbeat", envDur("presence-heartbeat", 5*time.Second), "how often a node re-sends its rosters to the cluster; other nodes drop them after 3 missed beats (FLOWSYNC_PRESENCE_HEARTBEAT)")
	var jwtSecretFile, adminSecretFile, receiptKeysFile string
	fs.StringVar(&jwtSecretFile, "jwt-secret-file", env("jwt-secret-file", ""), "file holding the HS256 secrets (one per line, at least 32 bytes, or kid:secret to rotate keys) access tokens are signed with; turns on JWT authentication (FLOWSYNC_JWT_SECRET_FILE)")
	fs.StringVar(&cfg.JWT.Audience, "jwt-audience", env("jwt-audience", "flowsync"), "the aud claim every token must carry (FLOWSYNC_JWT_AUDIENCE)")
	fs.StringVar(&cfg.JWT.Issuer, "jwt-issuer", env("jwt-issuer", ""), "the iss claim every token must carry; empty: not checked (FLOWSYNC_JWT_ISSUER)")
	fs.StringVar(&receiptKeysFile, "receipt-keys-file", env("receipt-keys-file", ""), "file of receipt keys, one \"<id> <base64 secret>\" per line, the current one first; every node of a deployment needs the same keys (default: the store keeps them) (FLOWSYNC_RECEIPT_KEYS_FILE)")
	fs.StringVar(&adminSecretFile, "admin-secret-file", env("admin-secret-file", ""), "file holding the admin API's shared secret (at least 32 bytes); turns on /admin/v1/ (FLOWSYNC_ADMIN_SECRET_FILE)")
	fs.BoolVar(&cfg.Demo, "demo", envBool("demo", true), "serve the demo editor at /demo/ and redirect / to it; --demo=false turns it off (FLOWSYNC_DEMO)")
	fs.StringVar(&cfg.DebugAddr, "debug-addr", env("debug-addr", ""), "serve Go's profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; empty: off (FLOWSYNC_DEBUG_ADDR)")
	flushInterval := fs.Duration("flush-interval", envDur("flush-interval", 10*time.Millisecond), "how long a busy connection gathers frames before one socket write (a quiet one writes at once); 0 writes each frame at once (more CPU per frame, less latency) (FLOWSYNC_FLUSH_INTERVAL)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", envDur("shutdown-timeout", 30*time.Second), "graceful shutdown bound (FLOWSYNC_SHUTDOWN_TIMEOUT)")
	var webhookURLs, webhookSecretFile, webhookWorkflows string
	fs.StringVar(&webhookURLs, "webhook-url", env("webhook-url", ""), "comma-separated URLs that receive signed change and lifecycle events of the workflows; empty: webhooks off (FLOWSYNC_WEBHOOK_URL)")
	fs.StringVar(&webhookSecretFile, "webhook-secret-file", env("webhook-secret-file", ""), "file holding the secret (at least 32 bytes) webhook requests are signed with; required with --webhook-url (FLOWSYNC_WEBHOOK_SECRET_FILE)")
	fs.StringVar(&cfg.Webhooks.QueuePath, "webhook-queue", env("webhook-queue", ""), "the file of undelivered webhook events; default <data-dir>/"+server.WebhookFile+" (FLOWSYNC_WEBHOOK_QUEUE)")
	fs.StringVar(&webhookWorkflows, "webhook-workflows", env("webhook-workflows", ""), "comma-separated workflow ids to send events of; empty: all (FLOWSYNC_WEBHOOK_WORKFLOWS)")
	fs.DurationVar(&cfg.Webhooks.Quiet, "webhook-quiet", envDur("webhook-quiet", 2*time.Second), "send a workflow's change event once it has had no edit for this long (FLOWSYNC_WEBHOOK_QUIET)")
	fs.DurationVar(&cfg.Webhooks.MaxDelay, "webhook-max-delay", envDur("webhook-max-delay", 30*time.Second), "and at the latest this long after its first unreported edit (FLOWSYNC_WEBHOOK_MAX_DELAY)")
	fs.BoolVar(&cfg.Webhooks.IncludeView, "webhook-include-view", envBool("webhook-include-view", false), "put the workflow's view in change events (FLOWSYNC_WEBHOOK_INCLUDE_VIEW)")
	fs.IntVar(&cfg.Webhooks.MaxQueue, "webhook-max-queue", envInt("webhook-max-queue", 10_000), "undelivered webhook deliveries kept; new events past it are dropped and counted (FLOWSYNC_WEBHOOK_MAX_QUEUE)")
	fs.IntVar(&cfg.Webhooks.MaxAttempts, "webhook-max-attempts", envInt("webhook-max-attempts", 20), "attempts per delivery before it is given up (FLOWSYNC_WEBHOOK_MAX_ATTEMPTS)")
	fs.DurationVar(&cfg.Webhooks.MaxAge, "webhook-max-age", envDur("webhook-max-age", 24*time.Hour), "age after which an undelivered event is given up (FLOWSYNC_WEBHOOK_MAX_AGE)")
	fs.BoolVar(&cfg.History.Off, "checkpoints-off", envBool("checkpoints-off", false), "keep no checkpoints (version history) of the workflows; the admin API's checkpoint routes answer 501 (FLOWSYNC_CHECKPOINTS_OFF)")
	fs.DurationVar(&cfg.History.Quiet, "checkpoint-quiet", envDur("checkpoint-quiet", history.DefaultQuiet), "make a workflow's automatic checkpoint once it has had no edit for this long (FLOWSYNC_CHECKPOINT_QUIET)")
	fs.DurationVar(&cfg.History.Interval, "checkpoint-interval", envDur("checkpoint-interval", history.DefaultInterval), "and at the latest this long after its first edit since the last one, so constant editing gets one per interval; negative: named checkpoints only (FLOWSYNC_CHECKPOINT_INTERVAL)")
	fs.IntVar(&cfg.History.MaxAuto, "checkpoint-keep", envInt("checkpoint-keep", history.DefaultMaxAuto), "automatic checkpoints kept per workflow, newest first; -1: no bound (FLOWSYNC_CHECKPOINT_KEEP)")
	fs.DurationVar(&cfg.History.MaxAge, "checkpoint-max-age", envDur("checkpoint-max-age", history.DefaultMaxAge), "automatic checkpoints older than this are dropped; -1ns: no bound (FLOWSYNC_CHECKPOINT_MAX_AGE)")
	fs.IntVar(&cfg.History.MaxNamed, "checkpoint-keep-named", envInt("checkpoint-keep-named", history.DefaultMaxNamed), "named checkpoints (e.g. \"deployed\") kept per workflow, newest first; they never age out; -1: no bound (FLOWSYNC_CHECKPOINT_KEEP_NAMED)")
	if err := fs.Parse(args); err != nil {
		return cfg, 0, err
	}
	if len(envErrs) > 0 {
		return cfg, 0, errors.Join(envErrs...)
	}
	cfg.Session.FramesPerSecond = float64(*framesPerSecond)
	cfg.Session.ConnectionsPerMinutePerIP = float64(*connectionsPerMinute)
	cfg.Rooms.MaxClockLag = *maxClockLag
	if *maxClockLag == 0 {
		cfg.Rooms.MaxClockLag = -1
	}
	cfg.Session.FlushInterval = *flushInterval
	if *flushInterval == 0 {
		cfg.Session.FlushInterval = -1 // session.Config: negative means off, zero the default
	}
	if fs.NArg() > 0 {
		return cfg, 0, fmt.Errorf("flowsync serve: unexpected argument %q", fs.Arg(0))
	}
	cfg.Addr = server.DefaultAddr(cfg.Addr, cfg.Dev)
	if jwtSecretFile != "" {
		keys, err := server.ReadJWTKeys(jwtSecretFile)
		if err != nil {
			return cfg, 0, err
		}
		cfg.JWT.Keys = keys
	}
	if receiptKeysFile != "" {
		data, err := os.ReadFile(receiptKeysFile)
		if err != nil {
			return cfg, 0, fmt.Errorf("flowsync: --receipt-keys-file: %w", err)
		}
		if cfg.ReceiptKeys, err = receipt.ParseKeyFile(data); err != nil {
			return cfg, 0, fmt.Errorf("flowsync: --receipt-keys-file %s: %w", receiptKeysFile, err)
		}
	}
	if adminSecretFile != "" {
		secret, err := server.ReadSecretFile(adminSecretFile)
		if err != nil {
			return cfg, 0, err
		}
		cfg.AdminSecret = secret
	}
	cfg.Webhooks.URLs = splitList(webhookURLs)
	cfg.Webhooks.Workflows = splitList(webhookWorkflows)
	switch {
	case len(cfg.Webhooks.URLs) > 0 && webhookSecretFile == "":
		return cfg, 0, errors.New("flowsync: --webhook-url needs --webhook-secret-file")
	case webhookSecretFile != "":
		secret, err := server.ReadSecretFile(webhookSecretFile)
		if err != nil {
			return cfg, 0, err
		}
		cfg.Webhooks.Secret = secret
	}
	for o := range strings.SplitSeq(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.Session.AllowedOrigins = append(cfg.Session.AllowedOrigins, o)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return cfg, 0, fmt.Errorf("flowsync: --log-level %q is not debug, info, warn or error", logLevel)
	}
	if cfg.Store.Kind == "auto" {
		cfg.Store.Kind = server.StoreAuto
	}
	if pgMaxConns < 1 || pgMaxConns > 1<<15 {
		return cfg, 0, fmt.Errorf("flowsync: --postgres-max-conns %d is out of range", pgMaxConns)
	}
	cfg.Store.Postgres.MaxConns = int32(pgMaxConns)
	cfg.Version = buildinfo.Read(version).Version
	return cfg, level, nil
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
