package httpguard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	g, err := New(Config{Addr: "127.0.0.1:8080", Hosts: []string{"kizuna.example", "proxy.example:9000"}, RawBodyPaths: []string{"/Marti/"}})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	type req struct {
		method, path, host, origin, ctype, body, upgrade, fetchSite string
	}
	tests := []struct {
		name string
		r    req
		want int
	}{
		{"own address", req{method: "GET", host: "127.0.0.1:8080"}, 200},
		{"localhost", req{method: "GET", host: "localhost:8080"}, 200},
		{"LOCALHOST", req{method: "GET", host: "LOCALHOST:8080"}, 200},
		{"ipv6 loopback", req{method: "GET", host: "[::1]:8080"}, 200},
		{"configured name", req{method: "GET", host: "kizuna.example:8080"}, 200},
		{"configured name:port", req{method: "GET", host: "proxy.example:9000"}, 200},
		{"configured name on another port", req{method: "GET", host: "proxy.example:8080"}, 421},
		{"foreign host", req{method: "GET", host: "evil.example:8080"}, 421},
		{"rebound name", req{method: "GET", host: "rebind.test:8080"}, 421},
		{"own address other port", req{method: "GET", host: "127.0.0.1:8081"}, 421},
		{"bare loopback (port 80 only)", req{method: "GET", host: "127.0.0.1"}, 421},
		{"empty host", req{method: "GET", host: ""}, 421},
		{"json post, no origin", req{method: "POST", host: "127.0.0.1:8080", ctype: "application/json", body: "{}"}, 200},
		{"json post, same origin", req{method: "POST", host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", ctype: "application/json; charset=utf-8", body: "{}"}, 200},
		{"taxii json", req{method: "POST", host: "127.0.0.1:8080", ctype: "application/taxii+json;version=2.1", body: "{}"}, 200},
		{"cross-origin post", req{method: "POST", host: "127.0.0.1:8080", origin: "http://127.0.0.1:9999", ctype: "application/json", body: "{}"}, 403},
		{"origin with other scheme", req{method: "POST", host: "127.0.0.1:8080", origin: "https://127.0.0.1:8080", ctype: "application/json", body: "{}"}, 403},
		{"null origin", req{method: "DELETE", host: "127.0.0.1:8080", origin: "null"}, 403},
		{"cross-site by fetch metadata", req{method: "PUT", host: "127.0.0.1:8080", fetchSite: "cross-site", ctype: "application/json", body: "{}"}, 403},
		{"text/plain post", req{method: "POST", host: "127.0.0.1:8080", ctype: "text/plain", body: "{}"}, 415},
		{"form post", req{method: "POST", host: "127.0.0.1:8080", ctype: "application/x-www-form-urlencoded", body: "a=b"}, 415},
		{"no content type", req{method: "POST", host: "127.0.0.1:8080", body: "{}"}, 415},
		{"bodyless post", req{method: "POST", host: "127.0.0.1:8080"}, 200},
		{"multipart on Marti upload", req{method: "POST", path: "/Marti/sync/missionupload", host: "127.0.0.1:8080", ctype: "multipart/form-data; boundary=x", body: "--x--"}, 200},
		{"multipart elsewhere", req{method: "POST", path: "/api/v1/orders", host: "127.0.0.1:8080", ctype: "multipart/form-data; boundary=x", body: "--x--"}, 415},
		{"cross-origin Marti upload", req{method: "POST", path: "/Marti/sync/missionupload", host: "127.0.0.1:8080", origin: "http://evil.example", ctype: "multipart/form-data; boundary=x", body: "--x--"}, 403},
		{"cross-origin get is served (the browser keeps the answer)", req{method: "GET", host: "127.0.0.1:8080", origin: "http://evil.example"}, 200},
		{"cross-origin websocket", req{method: "GET", host: "127.0.0.1:8080", origin: "http://evil.example", upgrade: "websocket"}, 403},
		{"same-origin websocket", req{method: "GET", host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", upgrade: "websocket"}, 200},
		{"websocket without origin", req{method: "GET", host: "127.0.0.1:8080", upgrade: "websocket"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.r.path
			if path == "" {
				path = "/api/v1/x"
			}
			r := httptest.NewRequest(tt.r.method, "http://placeholder"+path, strings.NewReader(tt.r.body))
			if tt.r.body == "" {
				r.ContentLength = 0
			}
			r.Host = tt.r.host
			for k, v := range map[string]string{"Origin": tt.r.origin, "Content-Type": tt.r.ctype, "Upgrade": tt.r.upgrade, "Sec-Fetch-Site": tt.r.fetchSite} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Content-Security-Policy": "frame-ancestors 'none'"} {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestGuardNames(t *testing.T) {
	tests := []struct {
		addr  string
		tls   bool
		hosts []string
		ok    []string
		no    []string
	}{
		{"127.0.0.1:80", false, nil, []string{"127.0.0.1", "localhost", "127.0.0.1:80", "[::1]"}, []string{"evil.example", "127.0.0.1:81"}},
		{"[::1]:8443", true, nil, []string{"[::1]:8443", "localhost:8443", "127.0.0.1:8443"}, []string{"[::1]", "evil:8443"}},
		{"10.1.2.3:443", true, []string{"node.example"}, []string{"10.1.2.3", "10.1.2.3:443", "node.example", "node.example:443"}, []string{"localhost:443", "10.1.2.4"}},
		{"0.0.0.0:8446", true, nil, []string{"127.0.0.1:8446", "localhost:8446"}, []string{"evil.example:8446", "0.0.0.1:8446", "0.0.0.0:8446"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			g, err := New(Config{Addr: tt.addr, TLS: tt.tls, Hosts: tt.hosts})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.ok {
				if !g.HostAllowed(h) {
					t.Errorf("%s refused", h)
				}
			}
			for _, h := range tt.no {
				if g.HostAllowed(h) {
					t.Errorf("%s allowed", h)
				}
			}
		})
	}
	if _, err := New(Config{Addr: "no-port"}); err == nil {
		t.Error("an address without a port is accepted")
	}
}

// FuzzHostAllowed: no Host that is not exactly an allowed name passes.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "localhost:8080", "evil:8080", "127.0.0.1:8080.evil", "127.0.0.1:8080 ", "[::1]:8080", "LOCALHOST:8080"} {
		f.Add(s)
	}
	g, err := New(Config{Addr: "127.0.0.1:8080"})
	if err != nil {
		f.Fatal(err)
	}
	allowed := map[string]bool{"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true}
	f.Fuzz(func(t *testing.T, host string) {
		if g.HostAllowed(host) != allowed[strings.ToLower(host)] {
			t.Fatalf("HostAllowed(%q) = %v", host, g.HostAllowed(host))
		}
	})
}
