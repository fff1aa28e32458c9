// Package pgtest gives tests a Postgres database of their own.
//
// The server is FLOWSYNC_TEST_POSTGRES_URL when set, else DefaultURL (the
// local default .ci/run and storage/postgres/testdb.sh provide). Each call
// of Schema creates a uniquely named schema and returns a URL whose
// search_path points at it, and drops it when the test ends, so parallel
// test runs against one server never collide; Database does the same with
// a whole database. When no server answers, the
// test fails if the CI environment variable is set and non-empty (CI must
// not silently skip the Postgres tests), and is skipped otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is tried when FLOWSYNC_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// EnvURL names the environment variable that overrides DefaultURL.
const EnvURL = "FLOWSYNC_TEST_POSTGRES_URL"

// BaseURL returns the server URL tests use.
func BaseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// connect connects to the server, or skips the test (fails it under CI).
func connect(ctx context.Context, t testing.TB, base string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := "no Postgres answers at " + redact(base) + " (set " + EnvURL + ", or run .ci/run which starts one): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return conn
}

func uniqueName() string {
	var b [6]byte
	rand.Read(b[:])
	return "flowsync_test_" + hex.EncodeToString(b[:])
}

// Schema returns a URL for a fresh, empty schema, dropped in t.Cleanup.
func Schema(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn := connect(ctx, t, base)
	schema := uniqueName()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("pgtest: create schema: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// Database returns a URL for a fresh, empty database on the same server,
// dropped in t.Cleanup (its connections ended first): for tests of whole
// databases, such as a pg_dump and pg_restore.
func Database(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := connect(ctx, t, base)
	name := uniqueName()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("pgtest: create database: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, base, name)
}

// withDatabase points a URL or key=value DSN at database name.
func withDatabase(t testing.TB, base, name string) string {
	if !strings.Contains(base, "://") {
		return base + " dbname=" + name
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s does not parse: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// withSearchPath adds search_path=schema to a URL or key=value DSN (pgx
// sends unknown parameters to the server as run-time settings).
func withSearchPath(t testing.TB, base, schema string) string {
	if !strings.Contains(base, "://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s does not parse: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
