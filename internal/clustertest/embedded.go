package clustertest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is a NATS server with JetStream run inside the test, on
// loopback, that the test may stop and restart (same port, same store)
// without touching the shared server.
type Embedded struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// StartEmbedded starts an embedded NATS server and shuts it down at
// cleanup.
func StartEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e := &Embedded{t: t, dir: t.TempDir(), port: -1}
	e.Start()
	t.Cleanup(e.Stop)
	return e
}

// URL is the server's nats:// URL.
func (e *Embedded) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", e.port) }

// Start (re)starts the server on its port with its store.
func (e *Embedded) Start() {
	e.t.Helper()
	opts := &server.Options{
		Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir,
		NoLog: true, NoSigs: true, HTTPPort: 0,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		e.t.Fatalf("embedded NATS: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		e.t.Fatal("embedded NATS not ready")
	}
	e.srv = s
	if e.port <= 0 {
		e.port = s.Addr().(*net.TCPAddr).Port
	}
}

// Stop shuts the server down and waits until it is gone.
func (e *Embedded) Stop() {
	if e.srv == nil {
		return
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.srv = nil
}
