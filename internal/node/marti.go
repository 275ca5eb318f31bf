package node

import (
	"path/filepath"

	"kizuna/internal/files"
	"kizuna/internal/marti"
)

// Version is the version string Kizuna reports to TAK clients.
var Version = "dev"

// setupMarti mounts the Marti API TAK clients call (version, client list,
// device profiles, file sharing) on every HTTP listener, backed by the
// labelled file store under DATA/files and the device profiles an
// operator puts under DATA/profiles/{connection,enrollment}/. The client
// list is fed by an observer of accepted client events.
func (n *Node) setupMarti() {
	fs, err := files.New(files.Config{Dir: filepath.Join(n.cfg.DataDir, "files"), Log: n.log.With("component", "files")})
	if err != nil {
		n.log.Error("file store unavailable", "err", err)
		fs = nil
	}
	clients := marti.NewClients(0)
	clients.SetOnline(n.onlineUIDs)
	n.AddObserver(clients)
	h, err := marti.New(marti.Config{
		NodeID: n.cfg.NodeID, Version: Version, Files: fs, Clients: clients,
		ProfileDir: filepath.Join(n.cfg.DataDir, "profiles"),
		Audit:      n.auditf,
		Log:        n.log.With("component", "marti"),
	})
	if err != nil {
		n.log.Error("Marti API unavailable", "err", err)
		return
	}
	for pattern, hd := range h.Routes() {
		n.Handle(pattern, hd)
	}
	if fs != nil {
		n.files = fs
		n.Use(Hooks{ID: "files", OnStart: fs.Start, OnStop: fs.Stop})
	}
}

// Files returns the node's labelled file store (nil if unavailable), for
// extensions that keep content by hash (TAK missions).
func (n *Node) Files() *files.Store { return n.files }

// onlineUIDs are the uids the clients on open streams announced.
func (n *Node) onlineUIDs() map[string]bool {
	subs := n.hub.Subscribers()
	m := make(map[string]bool, len(subs))
	for _, s := range subs {
		if id := s.Identity(); id.UID != "" {
			m[id.UID] = true
		}
	}
	return m
}
