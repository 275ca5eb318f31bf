package node

import (
	"errors"
	"testing"
)

// TestFederationWiring: a node without a federation listener or peers has
// no federation; with one it binds the listener of kind "federation" and
// serves GET /api/v1/federation; two federation listeners are a
// configuration error that New returns.
func TestFederationWiring(t *testing.T) {
	plain := startNode(t, baseConfig([]string{"USA:SECRET"}, nil))
	if plain.Federation() != nil {
		t.Error("federation set up without a listener or peers")
	}

	tp := newTestPKI(t, "USA", "JPN")
	cfg := tp.cfg
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"})
	cfg.Peers = []PeerConfig{{Name: "jpn-node", Classification: "SECRET"}}
	n := startNode(t, cfg)
	if n.Federation() == nil || n.Addr(KindFederation) == "" {
		t.Fatalf("federation %v, listener %q", n.Federation(), n.Addr(KindFederation))
	}
	var st struct {
		Node  string `json:"node"`
		Peers []struct {
			Name, State, Classification string
		} `json:"peers"`
	}
	getJSON(t, "http://"+addrOf(t, n, KindHTTP, "USA:SECRET")+"/api/v1/federation", &st)
	if st.Node != "usa-node" || len(st.Peers) != 1 || st.Peers[0].Name != "jpn-node" || st.Peers[0].State != "down" || st.Peers[0].Classification != "SECRET" {
		t.Errorf("status %+v", st)
	}

	two := tp.cfg
	two.DataDir = t.TempDir()
	two.Listeners = append(append([]ListenerConfig(nil), tp.cfg.Listeners...),
		ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"}, ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"})
	if _, err := New(two, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("two federation listeners: New returned %v, want a configuration error", err)
	}
}
