package taktest

import (
	"os"
	"os/exec"
	"testing"
)

// StartChild runs the test binary again as a child process with env
// ("KEY=value") added to its environment and args (such as
// "-test.run=^TestChild$") as its flags; the child sees env and plays its
// part, typically a node to be killed. Its stderr is the test's. It is
// killed and reaped at the test's cleanup.
func StartChild(t testing.TB, env string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child process: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
