package taktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Listeners waits until dataDir/listeners.json (which a node writes once
// every listener is bound) lists n listeners, and returns them decoded as
// L (node.ListenerInfo, or a map for a test of the file's shape). It is
// how a test finds a node run in another process or through the CLI.
func Listeners[L any](t testing.TB, dataDir string, n int, timeout time.Duration) []L {
	t.Helper()
	path := filepath.Join(dataDir, "listeners.json")
	var ls []L
	WaitFor(t, timeout, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ls = nil
		if err := json.Unmarshal(b, &ls); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(ls) != n {
			return fmt.Errorf("%s lists %d listeners, want %d", path, len(ls), n)
		}
		return nil
	})
	return ls
}
