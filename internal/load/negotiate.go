package load

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// negotiate switches conn to TAK protocol v1 streaming: it waits for the
// server's t-x-takp-v offer, sends a t-x-takp-q request for version 1 and
// waits for a t-x-takp-r answer with status="true". Each wait is bounded by
// timeout. It returns the bytes read after the answer, which are already
// protobuf frames.
func negotiate(conn net.Conn, uid string, timeout time.Duration) ([]byte, error) {
	var buf []byte
	chunk := make([]byte, 16<<10)
	// next returns the next complete XML event, reading as needed.
	next := func(deadline time.Time, waitingFor string) ([]byte, error) {
		for {
			if i := bytes.Index(buf, endTag); i >= 0 {
				ev := buf[:i+len(endTag)]
				buf = buf[i+len(endTag):]
				return ev, nil
			}
			if len(buf) > maxFrame {
				return nil, fmt.Errorf("%w: waiting for %s: no complete XML event in %d bytes", ErrNegotiation, waitingFor, len(buf))
			}
			if err := conn.SetReadDeadline(deadline); err != nil {
				return nil, fmt.Errorf("setting read deadline: %w", err)
			}
			n, err := conn.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if err != nil && n == 0 {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return nil, fmt.Errorf("%w: server sent no %s within %v", ErrNegotiation, waitingFor, timeout)
				}
				return nil, fmt.Errorf("%w: waiting for %s: %w", ErrNegotiation, waitingFor, err)
			}
		}
	}

	const offer = "t-x-takp-v offer (TakProtocolSupport)"
	deadline := time.Now().Add(timeout)
	for {
		ev, err := next(deadline, offer)
		if err != nil {
			return nil, err
		}
		if isType(ev, "t-x-takp-v") {
			break
		}
	}
	if _, err := conn.Write(controlRequest(uid, time.Now())); err != nil {
		return nil, fmt.Errorf("%w: sending t-x-takp-q: %w", ErrNegotiation, err)
	}
	const answer = "t-x-takp-r answer (TakResponse) to our t-x-takp-q request"
	deadline = time.Now().Add(timeout)
	for {
		ev, err := next(deadline, answer)
		if err != nil {
			return nil, err
		}
		if !isType(ev, "t-x-takp-r") {
			continue
		}
		if !bytes.Contains(ev, []byte(`status="true"`)) && !bytes.Contains(ev, []byte(`status='true'`)) {
			return nil, fmt.Errorf("%w: server refused TAK protocol version 1: %.200s", ErrNegotiation, ev)
		}
		break
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clearing read deadline: %w", err)
	}
	return buf, nil
}

// isType reports whether the XML event has the given type attribute.
func isType(ev []byte, typ string) bool {
	return bytes.Contains(ev, []byte(`type="`+typ+`"`)) || bytes.Contains(ev, []byte(`type='`+typ+`'`))
}
