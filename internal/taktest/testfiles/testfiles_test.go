package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

func TestByName(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.xml": "<a/>", "b.xml": "<b/>", "c.txt": "no"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := ByName(t, filepath.Join(dir, "*.xml"))
	if len(got) != 2 || string(got["a"]) != "<a/>" || string(got["b"]) != "<b/>" {
		t.Fatalf("got %q", got)
	}
}
