package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"kizuna/internal/httpguard"
)

// servePprof serves the Go profiler on a loopback address only.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof address: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("pprof address %s is not on loopback", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// Behind the same Host and Origin checks as every other listener: a
	// web page that rebinds its name to loopback reads no profile.
	g, err := httpguard.New(httpguard.Config{Addr: ln.Addr().String(), Log: log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: g.Wrap(mux), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("profiling", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
