// Package takproto owns TAK Protocol version 1: the protobuf payload (the
// generated messages live in the pb sub-package), the streaming and mesh
// framings, the lossless conversion between a TakMessage and a cot.Event,
// and the XML control events that negotiate the switch from CoT XML to
// protobuf on a streaming connection.
//
// A protobuf event passes the checks of the XML decoder: its xmlDetail goes
// through (*cot.Event).SetDetail, so DTDs and entity declarations are
// refused and the same facts (callsign, destinations, links, track, origin)
// are extracted; its other strings must be what an XML attribute can carry
// (UTF-8 without control characters); the typed detail fields become
// escaped XML elements in front of it. Errors carry the cot sentinels, so
// cot.Reason classifies them. MarshalEvent and ToEvent are the hot paths:
// both work on the wire bytes directly, without the generated structs.
//
// The Go code in pb is generated from the .proto files in proto/ and is
// committed. To regenerate it, install protoc and protoc-gen-go and run
// "go generate ./internal/takproto".
package takproto

//go:generate protoc -I proto --go_out=pb --go_opt=module=kizuna/internal/takproto/pb proto/takproto/takmessage.proto proto/takproto/takcontrol.proto proto/takproto/cotevent.proto proto/takproto/detail.proto

import (
	"errors"

	"kizuna/internal/cot"
)

// Version is the TAK Protocol version this package speaks.
const Version = 1

// malformedError is a sentinel that also matches cot.ErrMalformed, so that
// callers branching on the cot sentinels (and cot.Reason) treat protobuf
// garbage as malformed input.
type malformedError string

func (e malformedError) Error() string        { return string(e) }
func (e malformedError) Is(target error) bool { return target == cot.ErrMalformed }

// Sentinel errors.
var (
	// ErrProto reports a payload that is not a valid TakMessage, or a mesh
	// packet without the mesh header. It matches cot.ErrMalformed too.
	ErrProto error = malformedError("malformed protobuf")
	// ErrBadVarint reports a frame length varint longer than 10 bytes. It is
	// fatal for the stream and matches cot.ErrMalformed too.
	ErrBadVarint error = malformedError("bad varint in tak frame header")
	// ErrStray reports bytes skipped between frames while resynchronising
	// on the 0xbf magic byte. It is not fatal and matches cot.ErrMalformed.
	ErrStray error = malformedError("stray bytes between tak frames")
	// ErrTooLarge is cot.ErrTooLarge: a frame over the size limit. It is
	// fatal for the stream.
	ErrTooLarge = cot.ErrTooLarge
	// ErrNoEvent reports a TakMessage without a CotEvent (for example a
	// mesh TakControl announcement). It is not a fault of the sender.
	ErrNoEvent = errors.New("tak message without event")
)
