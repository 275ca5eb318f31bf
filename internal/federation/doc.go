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
package federation
