package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrStop may be returned by a Read callback to end reading early.
var ErrStop = errors.New("stop reading")

// Read calls fn for each complete record of the log under dir/audit, in
// order, without checking the chain (use Verify for that). A torn last
// line is skipped. It may run while a node appends.
func Read(dir string, fn func(Record) error) error {
	f, err := os.Open(filepath.Join(dir, SubDir, LogFile))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	err = readLines(f, func(n int, line []byte, complete bool) error {
		if !complete {
			return nil
		}
		r, err := parseRecord(line)
		if err != nil {
			return fmt.Errorf("audit: %s line %d: %v", LogFile, n, err)
		}
		return fn(r)
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}
