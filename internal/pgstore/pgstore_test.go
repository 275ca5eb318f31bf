package pgstore_test

import (
	"context"
	"testing"

	"kizuna/internal/clustertest"
	"kizuna/internal/pgstore"
	"kizuna/internal/store"
	"kizuna/internal/store/storetest"
)

// TestBackendSuite runs the shared storage suite against PostgreSQL, each
// subtest in a fresh schema.
func TestBackendSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		url := clustertest.Postgres(t)
		return func() (store.Backend, error) {
			return pgstore.Open(context.Background(), pgstore.Config{URL: url})
		}
	})
}

// TestMigrateConcurrent starts several stores on one empty schema at
// once, as the instances of a cluster do: the migrations run once.
func TestMigrateConcurrent(t *testing.T) {
	url := clustertest.Postgres(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := pgstore.Open(context.Background(), pgstore.Config{URL: url})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	s, err := pgstore.Open(context.Background(), pgstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.Pool().QueryRow(context.Background(), `SELECT version FROM kizuna_schema`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != pgstore.SchemaVersion {
		t.Errorf("schema version %d, want %d", v, pgstore.SchemaVersion)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  pgstore.Config
	}{
		{"no url", pgstore.Config{}},
		{"bad url", pgstore.Config{URL: "postgres://%zz"}},
		{"flush too long", pgstore.Config{URL: clustertest.PostgresURL(), FlushInterval: store.MaxFlushInterval + 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := pgstore.Open(context.Background(), tc.cfg); err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}
