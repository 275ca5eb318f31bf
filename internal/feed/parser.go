package feed

import (
	"context"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/fusion"
)

// Parser decodes a feed's bytes without a transport, exactly as a running
// feed would: for replays, the evaluation harness and benchmarks. Not safe
// for concurrent use.
type Parser struct {
	f       *Feed
	fr      *framer
	batches [][]fusion.Observation
}

// NewParser returns a parser for cfg (Transport and Addr may be left
// empty; Sink is replaced, and a cot parser without a CoT sink drops the
// events after extracting their observations).
func NewParser(cfg Config) (*Parser, error) {
	if cfg.Transport == "" {
		cfg.Transport = TransportTCP
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.CoT == nil {
		cfg.CoT = func(context.Context, *cot.Event) error { return nil }
	}
	p := &Parser{}
	cfg.Sink = func(b []fusion.Observation) bool {
		p.batches = append(p.batches, b)
		return true
	}
	f, err := New(cfg)
	if err != nil {
		return nil, err
	}
	p.f = f
	p.fr = newFramer(f)
	return p, nil
}

// Stream decodes bytes of a TCP stream received at now and returns the
// observation batches they completed.
func (p *Parser) Stream(b []byte, now time.Time) ([][]fusion.Observation, error) {
	p.batches = p.batches[:0]
	err := p.fr.stream(context.Background(), b, now)
	return p.batches, err
}

// Datagram decodes one UDP datagram received at now.
func (p *Parser) Datagram(b []byte, now time.Time) [][]fusion.Observation {
	p.batches = p.batches[:0]
	p.fr.datagram(context.Background(), b, now)
	return p.batches
}

// Stats returns the parser's counters.
func (p *Parser) Stats() Stats { return p.f.Stats() }
