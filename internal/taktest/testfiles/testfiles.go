// Package testfiles loads the sample files tests share, such as the
// realistic CoT events under internal/cot/testdata/events. It imports
// nothing of Kizuna, so the tests of every package, cot's included, may
// use it.
package testfiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ByName reads every file matching pattern (a filepath.Glob pattern) and
// returns their contents keyed by base name without extension. No match
// fails the test: a fixture that silently vanished would make the tests
// that range over it pass vacuously.
func ByName(t testing.TB, pattern string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files match %s: %v", pattern, err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))] = b
	}
	return out
}
