package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/load/internal/relay"
)

// startRelay runs a zero-logic relay for the test's lifetime.
func startRelay(t *testing.T, cfg relay.Config) string {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	r, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	return r.Addr()
}

func shortLoad(addr string, proto Proto) Config {
	return Config{Addr: addr, Clients: 5, Rate: 5, Duration: 2 * time.Second, Proto: proto, Drain: 500 * time.Millisecond, Settle: -1}
}

// checkLine checks that the summary line parses and agrees with res.
func checkLine(t *testing.T, res Result) map[string]string {
	t.Helper()
	line := res.String()
	if strings.Contains(line, "\n") {
		t.Fatalf("summary is more than one line: %q", line)
	}
	kv, err := ParseResult(line)
	if err != nil {
		t.Fatalf("summary %q: %v", line, err)
	}
	for _, k := range []string{"deliveries_per_s", "completeness", "p50", "p99", "clients", "rate", "duration", "proto",
		"sent", "expected", "received", "p90", "max", "connect_failures", "errors"} {
		if _, ok := kv[k]; !ok {
			t.Errorf("summary %q has no %s=", line, k)
		}
	}
	for _, k := range []string{"p50", "p90", "p99", "max"} {
		v, ok := strings.CutSuffix(kv[k], "ms")
		if _, err := strconv.ParseFloat(v, 64); !ok || err != nil || !strings.Contains(v, ".") || len(v)-strings.Index(v, ".") != 2 {
			t.Errorf("%s=%q, want milliseconds with one decimal like 23.4ms", k, kv[k])
		}
	}
	return kv
}

func TestRunComplete(t *testing.T) {
	for _, tc := range []struct {
		proto    Proto
		coalesce time.Duration
	}{{ProtoXML, 0}, {ProtoProtobuf, 0}, {ProtoXML, 5 * time.Millisecond}} {
		proto := tc.proto
		t.Run(fmt.Sprintf("%s/coalesce=%v", proto, tc.coalesce), func(t *testing.T) {
			t.Parallel()
			addr := startRelay(t, relay.Config{Protobuf: proto == ProtoProtobuf, Coalesce: tc.coalesce})
			res, err := Run(t.Context(), shortLoad(addr, proto))
			if err != nil {
				t.Fatal(err)
			}
			kv := checkLine(t, res)
			if kv["completeness"] != "1.00000" || res.Received != res.Expected {
				t.Errorf("completeness %s (received %d of %d), want 1.00000", kv["completeness"], res.Received, res.Expected)
			}
			// 5 clients × 5 Hz × 2 s: 50 slots, a few may be skipped on a busy machine.
			if res.Sent+res.Skipped != 50 || res.Sent < 40 {
				t.Errorf("sent %d, skipped %d; want 50 slots, most of them sent", res.Sent, res.Skipped)
			}
			if res.Connected != 5 || res.ConnectFailures != 0 || res.Errors != 0 || res.Echoes != 0 {
				t.Errorf("connected %d, failures %d, errors %d, echoes %d; want 5, 0, 0, 0", res.Connected, res.ConnectFailures, res.Errors, res.Echoes)
			}
			if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max || res.Max > time.Second {
				t.Errorf("latencies p50 %v p99 %v max %v are not plausible on loopback", res.P50, res.P99, res.Max)
			}
			if runtime.GOOS == "linux" && res.GeneratorCPU <= 0 {
				t.Errorf("generator CPU %v not measured", res.GeneratorCPU)
			}
			if dps := res.DeliveriesPerSecond(); dps < 80 || dps > 100 {
				t.Errorf("deliveries_per_s = %.1f, want about 5×5×4 = 100", dps)
			}
		})
	}
}

func TestRunDropped(t *testing.T) {
	t.Parallel()
	addr := startRelay(t, relay.Config{Drop: func(n uint64) bool { return n%2 == 1 }})
	res, err := Run(t.Context(), shortLoad(addr, ProtoXML))
	if err != nil {
		t.Fatal(err)
	}
	checkLine(t, res)
	if c := res.Completeness(); c < 0.45 || c > 0.55 {
		t.Errorf("completeness %.3f (received %d of %d), want about 0.5", c, res.Received, res.Expected)
	}
}

func TestRunDuplicated(t *testing.T) {
	t.Parallel()
	addr := startRelay(t, relay.Config{Twice: true})
	res, err := Run(t.Context(), shortLoad(addr, ProtoXML))
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != res.Expected || res.Duplicates != res.Expected || res.Completeness() != 1 {
		t.Errorf("received %d, duplicates %d, expected %d, completeness %v; want all once and all again, 1",
			res.Received, res.Duplicates, res.Expected, res.Completeness())
	}
}

// Events of another run on the same server, and echoes, are not counted.
func TestRunIgnoresOthers(t *testing.T) {
	t.Parallel()
	addr := startRelay(t, relay.Config{Echo: true})
	var wg sync.WaitGroup
	var results [2]Result
	var errs [2]error
	for i := range 2 {
		wg.Go(func() { results[i], errs[i] = Run(t.Context(), shortLoad(addr, ProtoXML)) })
	}
	wg.Wait()
	for i, res := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if res.Received != res.Expected || res.Echoes != res.Sent {
			t.Errorf("run %d: received %d of %d, echoes %d of %d sent; want all and all", i, res.Received, res.Expected, res.Echoes, res.Sent)
		}
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	xmlOnly := startRelay(t, relay.Config{})
	mute := startRelay(t, relay.Config{Mute: true})

	tests := []struct {
		name    string
		addr    string
		proto   Proto
		wantErr error
		wantMsg string
	}{
		{"refused", refused, ProtoXML, ErrConnect, "connection refused"},
		{"no protocol offer", xmlOnly, ProtoProtobuf, ErrNegotiation, "no t-x-takp-v"},
		{"no protocol answer", mute, ProtoProtobuf, ErrNegotiation, "no t-x-takp-r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := shortLoad(tt.addr, tt.proto)
			cfg.NegotiateTimeout = 300 * time.Millisecond
			start := time.Now()
			_, err := Run(t.Context(), cfg)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("err = %v, want it to name the address %s", err, tt.addr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failing took %v", d)
			}
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:8087", Clients: 2, Rate: 1, Duration: time.Second}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no address", func(c *Config) { c.Addr = "" }},
		{"address without port", func(c *Config) { c.Addr = "localhost" }},
		{"one client", func(c *Config) { c.Clients = 1 }},
		{"zero rate", func(c *Config) { c.Rate = 0 }},
		{"zero duration", func(c *Config) { c.Duration = 0 }},
		{"unknown proto", func(c *Config) { c.Proto = "json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			if _, err := Run(t.Context(), cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := ParseArgs([]string{"--addr", "127.0.0.1:8087", "--clients", "800", "--rate", "1", "--duration", "60s", "--proto", "protobuf", "--drain", "5s"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8087" || cfg.Clients != 800 || cfg.Rate != 1 || cfg.Duration != time.Minute || cfg.Proto != ProtoProtobuf || cfg.Drain != 5*time.Second {
		t.Errorf("config = %+v", cfg)
	}
	for _, args := range [][]string{
		{"--clients", "5"},                           // no address
		{"--addr", "127.0.0.1:1", "--proto", "json"}, // bad proto
		{"--addr", "127.0.0.1:1", "extra"},           // stray argument
	} {
		if _, err := ParseArgs(args, &stderr); err == nil {
			t.Errorf("ParseArgs(%q) succeeded", args)
		}
	}
}

// A server that hangs up on its clients shows as errors, not as a hang.
func TestRunServerHangsUp(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { // close after the first event
				defer c.Close()
				var got []byte
				buf := make([]byte, 4096)
				for !bytes.Contains(got, endTag) {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got = append(got, buf[:n]...)
				}
			})
		}
	})
	cfg := shortLoad(ln.Addr().String(), ProtoXML)
	cfg.Clients = 3
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	kv := checkLine(t, res)
	if res.Errors < 3 || res.Received != 0 || kv["completeness"] != "0.00000" {
		t.Errorf("errors %d, received %d, completeness %s; want ≥ 3 (one per client), 0, 0.00000", res.Errors, res.Received, kv["completeness"])
	}
}
