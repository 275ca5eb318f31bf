package node

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestHTTPGuard: the node's HTTP listener refuses a foreign Host (DNS
// rebinding), a cross-origin write or WebSocket, and a non-JSON body, and
// sets the security headers; its own names pass.
func TestHTTPGuard(t *testing.T) {
	cfg := baseConfig(nil, []string{"USA:SECRET"})
	cfg.HTTPHosts = []string{"kizuna.example"}
	nd := startNode(t, cfg)
	addr := addrOf(t, nd, KindHTTP, "")
	_, port, _ := strings.Cut(addr, ":")
	do := func(method, path, host, origin, ctype, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	tests := []struct {
		name                                  string
		method, path, host, origin, ctype, bd string
		want                                  int
	}{
		{"own address", "GET", "/api/v1/objects", addr, "", "", "", 200},
		{"localhost", "GET", "/api/v1/objects", "localhost:" + port, "", "", "", 200},
		{"configured name", "GET", "/api/v1/objects", "kizuna.example:" + port, "", "", "", 200},
		{"foreign host reads nothing", "GET", "/api/v1/objects", "evil.example:" + port, "", "", "", 421},
		{"foreign host, metrics", "GET", "/metrics", "evil.example:" + port, "", "", "", 421},
		{"foreign host, map", "GET", "/", "evil.example:" + port, "", "", "", 421},
		{"cross-origin order", "POST", "/api/v1/orders", addr, "http://127.0.0.1:1", "application/json", "{}", 403},
		{"text/plain order", "POST", "/api/v1/orders", addr, "", "text/plain", "{}", 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(tt.method, tt.path, tt.host, tt.origin, tt.ctype, tt.bd)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing: %v", res.Header)
			}
		})
	}
	t.Run("map keeps its CSP", func(t *testing.T) {
		res := do("GET", "/", addr, "", "", "")
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
	})
	ws := func(host, origin string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		h.Set("Origin", origin)
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/stream", &websocket.DialOptions{HTTPHeader: h, Host: host})
		if err == nil {
			c.CloseNow()
		}
		return err
	}
	if err := ws(addr, "http://"+addr); err != nil {
		t.Fatalf("same-origin WebSocket refused: %v", err)
	}
	if err := ws("evil.example:"+port, "http://evil.example:"+port); err == nil {
		t.Fatal("WebSocket with a foreign Host and Origin accepted")
	}
	if err := ws(addr, "http://127.0.0.1:1"); err == nil {
		t.Fatal("cross-origin WebSocket accepted")
	}
}
