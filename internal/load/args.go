package load

import (
	"flag"
	"fmt"
	"io"
	"time"
)

// Usage is the one-line description of `kizuna load`.
const Usage = "load generator: N TAK clients, all-to-all position reports, one summary line"

// ParseArgs parses the flags of `kizuna load` into a Config (without a
// Logger). Flag errors and usage go to stderr; -h returns flag.ErrHelp.
func ParseArgs(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var proto string
	fs.StringVar(&cfg.Addr, "addr", "", "server CoT TCP address `HOST:PORT` (required)")
	fs.IntVar(&cfg.Clients, "clients", 10, "number of `N` clients, each reading everything the others send")
	fs.Float64Var(&cfg.Rate, "rate", 1, "position reports per second per client")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the clients send")
	fs.StringVar(&proto, "proto", string(ProtoXML), "wire format: xml or protobuf (TAK protocol v1, negotiated)")
	fs.DurationVar(&cfg.Drain, "drain", 3*time.Second, "how long to keep reading after the last send")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "pause between connecting the last client and the first send")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 10*time.Second, "timeout of one connection attempt")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", 64, "connection attempts in flight at once")
	fs.DurationVar(&cfg.NegotiateTimeout, "negotiate-timeout", 10*time.Second, "protobuf: how long to wait for the server's offer, then for its answer")
	fs.DurationVar(&cfg.Stale, "stale", 30*time.Second, "stale time stamped on each report (at least three send periods)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the load generator to `FILE`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kizuna load --addr HOST:PORT --clients N --rate R --duration D [--proto xml|protobuf] [flags]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Runs TAK Server's load-test profile against any TAK server speaking CoT over TCP and")
		fmt.Fprintln(stderr, "prints one summary line of key=value fields (deliveries_per_s, completeness, p50, p99, …).")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return Config{}, fmt.Errorf("%w: unexpected argument %q", ErrConfig, fs.Arg(0))
	}
	cfg.Proto = Proto(proto)
	if cfg.Drain == 0 {
		cfg.Drain = -1 // Config treats zero as the default
	}
	if cfg.Settle == 0 {
		cfg.Settle = -1
	}
	check := cfg
	if err := check.setDefaults(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
