// Package clustertest is the test kit for cluster mode: it finds the
// PostgreSQL and NATS servers the tests run against (KIZUNA_TEST_POSTGRES,
// default postgres://postgres@127.0.0.1:5432/test; KIZUNA_TEST_NATS,
// default nats://127.0.0.1:4222) and isolates each test in its own
// PostgreSQL schema and its own JetStream names, removed at cleanup.
// Other engineers' tests share those servers: nothing here touches what a
// test did not create.
package clustertest

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
	"github.com/nats-io/nats.go"
)

// PostgresURL is the server the tests use.
func PostgresURL() string {
	if u := os.Getenv("KIZUNA_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// NATSURL is the NATS server (with JetStream) the tests use.
func NATSURL() string {
	if u := os.Getenv("KIZUNA_TEST_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// Unique returns a short random lower-case name with prefix, usable as a
// schema, stream or key-value bucket name.
func Unique(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// skipOrFail skips when the service is unreachable outside CI, and fails
// in CI (CI=true), where .ci/run starts both services.
func skipOrFail(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s unreachable in CI: %v", what, err)
	}
	t.Skipf("%s unreachable (%v): start it or set the env var; this test runs in CI", what, err)
}

// Postgres creates a fresh schema for t and returns a connection string
// whose search_path is that schema. The schema is dropped at cleanup.
func Postgres(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		skipOrFail(t, "PostgreSQL at "+base, err)
	}
	schema := Unique("kzt_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("creating schema: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	return WithSchema(base, schema)
}

// WithSchema returns u with its search_path set to schema.
func WithSchema(u, schema string) string {
	pu, err := url.Parse(u)
	if err != nil {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		return u + sep + "search_path=" + schema
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// NATS checks that the NATS server answers and returns its URL and a
// unique prefix for the test's JetStream names. Streams and buckets whose
// names contain the prefix are deleted at cleanup.
func NATS(t testing.TB) (natsURL, prefix string) {
	t.Helper()
	u := NATSURL()
	nc, err := nats.Connect(u, nats.Timeout(3*time.Second))
	if err != nil {
		skipOrFail(t, "NATS at "+u, err)
	}
	nc.Close()
	prefix = Unique("kzt")
	t.Cleanup(func() { DeleteJetStream(t, u, prefix) })
	return u, prefix
}

// DeleteJetStream deletes every stream and key-value bucket whose name
// contains prefix.
func DeleteJetStream(t testing.TB, u, prefix string) {
	nc, err := nats.Connect(u, nats.Timeout(3*time.Second))
	if err != nil {
		t.Logf("cleaning JetStream %s*: %v", prefix, err)
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return
	}
	for name := range js.StreamNames() {
		if strings.Contains(name, prefix) {
			if err := js.DeleteStream(name); err != nil {
				t.Logf("deleting stream %s: %v", name, err)
			}
		}
	}
}
