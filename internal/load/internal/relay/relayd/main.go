// Command relayd runs the zero-logic relay on its own, to measure the
// baseline that `kizuna load` figures are compared with on one machine:
//
//	go run ./internal/load/internal/relay/relayd -addr 127.0.0.1:0 [-protobuf] [-coalesce 5ms]
//
// It prints the address it listens on and runs until interrupted. It is a
// measuring aid, not part of the product.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"kizuna/internal/load/internal/relay"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	protobuf := flag.Bool("protobuf", false, "offer TAK protocol v1 and switch connections that ask")
	coalesce := flag.Duration("coalesce", 0, "shortest time between two writes to one connection")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `FILE` until interrupted")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "relayd:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	r, err := relay.New(relay.Config{Addr: *addr, Protobuf: *protobuf, Coalesce: *coalesce})
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayd:", err)
		os.Exit(1)
	}
	fmt.Println(r.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := r.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "relayd:", err)
	}
}
