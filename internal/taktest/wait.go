package taktest

import (
	"errors"
	"testing"
	"time"
)

// pollEvery is how often WaitFor checks. Short enough that tests do not
// wait long past the moment a condition holds, long enough not to spin.
const pollEvery = 10 * time.Millisecond

// WaitFor calls check until it returns nil, and fails the test with the
// last error when timeout passes first. Tests wait on readiness this way,
// never on sleeps.
func WaitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %v", timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

// WaitUntil is WaitFor for a condition: it fails with "waiting for what"
// when cond has not held within timeout.
func WaitUntil(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	notYet := errors.New("waiting for " + what)
	WaitFor(t, timeout, func() error {
		if cond() {
			return nil
		}
		return notYet
	})
}
