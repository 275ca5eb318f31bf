// Package federation owns node-to-node links between allied Kizuna nodes:
// mutual-TLS links on the federation listener, the egress policy (every
// event is re-checked with label.Releasable against the peer node's nation
// and the link's accredited classification before it crosses a link),
// topology safety (origin node and sequence on every event, duplicate
// removal across paths, loop cutting by the path of node ids), a durable
// per-peer outbound queue in SQLite with acknowledgements, compaction of
// superseded position reports while a link is down, and a priority lane
// for flash traffic (missile warnings) that jumps every queue.
//
// The package does not know the node: it talks to it through the Host
// interface (ingest a federated event) and is fed every published message
// through Tap. Package node wires it (node/federation.go).
//
// # Wire protocol
//
// After the TLS handshake each side sends one HELLO frame and then any mix
// of EVENT, ACK and HEARTBEAT frames. A frame is a 4-byte big-endian
// length (of what follows), one type byte and a body; see frame.go. Each
// link has two lanes (flash and routine), each with its own sequence of
// link sequence numbers; the receiver acknowledges cumulatively per lane
// once what it received is committed to its own durable queue, and its
// HELLO carries the last sequence it committed per lane, from which the
// sender resumes.
//
// # Flash across a link
//
// A flash event waits behind routine traffic nowhere on a link. At the
// sender it is routed at once into the link's in-memory flash list
// (routeFlash) and written without waiting for its commit; the writer
// looks at the flash lane before every write, and a write carries at
// most WriteChunk (64 KiB) of routine events, so a flash event waits for
// at most one such write. TCP_NOTSENT_LOWAT (16 KiB) on link sockets
// keeps the kernel from holding more than that unsent in front of it (a
// send buffer autotuned to megabytes would otherwise hold seconds of a
// slow link's routine traffic). At the receiver the reader drains the
// socket: routine events go to a queue of up to RecvQueue (16 MiB) that
// one goroutine hands to the node in order, while acknowledgements,
// certificates and flash events are handled as soon as they are read. A
// relaying hub so publishes a flash event the moment it reads it, and
// routes it into the next link's flash list the same way. Sequence
// numbers, acknowledgements and duplicate removal are per lane, so the
// lanes overtaking each other changes nothing of exactly-once delivery;
// each lane stays in order.
//
// # Origin authentication (protocol version 2)
//
// A node speaks for itself only, and a relay adds nothing it cannot prove.
// Every event carries, after its label, an auth block: the SHA-256
// fingerprint of the origin node's certificate, the size of the batch the
// origin signed and the event's index in it, the event's Merkle inclusion
// proof (RFC 9162 hashing: leaf = SHA-256(0x00 ‖ domain ‖ origin node ‖
// origin sequence ‖ encoded label ‖ payload), node = SHA-256(0x01 ‖ left ‖
// right)), and the origin's signature over SHA-256(domain ‖ origin node ‖
// batch size ‖ root), made with the key of its node certificate (ECDSA,
// RSA PKCS#1 v1.5 or Ed25519, whatever the certificate holds). The
// payload is the CoT XML exactly as the origin signed it. The origin
// signs the events of one flush (up to 4,096) under one signature; a
// flash event is signed alone, at once.
//
// A CERT frame (type 5; body: one DER certificate) goes ahead of the first
// event on a connection whose auth names a certificate not yet sent on
// that connection. Relays keep the certificates of origins they verified
// (table certs of the federation database) so that queued events can be
// forwarded with their proof after a restart.
//
// A receiver accepts, stores or relays an event only when: the certificate
// named by the fingerprint was received and verifies against the trusted
// CA of the nation its subject names (that CA's revocation list, the node
// OU, not expired); its CN is the event's origin node; its nation is the
// label's originator; the inclusion proof leads to a root whose signature
// verifies with that certificate's key. Each verified root is cached, so
// a batch costs one signature verification per receiving node and a few
// hashes per event. The origin sequence number is covered by the
// signature and each origin's sequence numbers are remembered (the
// duplicate windows), so a replay is refused as a duplicate and cannot be
// made fresh. The path is not signed: it only cuts loops and is never a
// source of authority.
//
// An event that fails any of these is refused (acknowledged, so that the
// link does not stall), logged, audited as federation.unverified and
// counted per peer (kizuna_federation_unverified_total); a certificate
// that does not verify is audited as federation.bad_certificate. The link
// stays up.
package federation
