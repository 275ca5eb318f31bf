package store_test

import (
	"testing"

	"kizuna/internal/store"
	"kizuna/internal/store/storetest"
)

// TestBackendSuite runs the shared storage suite against SQLite; package
// pgstore runs the same suite against PostgreSQL.
func TestBackendSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		return func() (store.Backend, error) { return store.Open(store.Config{Dir: dir}) }
	})
}
