package taktest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Metric reads one sample from the Prometheus text at
// http://httpAddr/metrics, e.g. `kizuna_events_rejected_total{reason="dtd"}`,
// and returns 0 when the sample is absent. /metrics answers only the node's
// own nation (partners get 403), so httpAddr must be a listener labelled
// with the node's nation; any status but 200 fails the test.
func Metric(t testing.TB, httpAddr, sample string) float64 {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err != nil {
				t.Fatalf("metric %s: %q: %v", sample, v, err)
			}
			return f
		}
	}
	return 0
}
