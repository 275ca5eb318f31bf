package topology_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"kizuna/internal/node"
	"kizuna/internal/topology"
)

// Start the reference topology (a USA hub that JPN and KOR nodes dial)
// on loopback with a fresh PKI, add a web listener for each nation, and
// wait for the links.
func Example() {
	dir, _ := os.MkdirTemp("", "kizuna-fed")
	defer os.RemoveAll(dir)
	specs := topology.Trilateral()
	for i := range specs {
		specs[i].Configure = func(cfg *node.Config) {
			// For example, a JPN:SECRET web listener on every node.
			cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"})
		}
	}
	c, err := topology.Start(context.Background(), dir, specs, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Shutdown(context.Background())
	hub := c.Node("usa-hub")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		up := 0
		for _, p := range hub.Federation().Status().Peers {
			if p.State == "up" {
				up++
			}
		}
		if up == 2 {
			break
		}
	}
	for _, p := range hub.Federation().Status().Peers {
		fmt.Println(p.Name, p.Nation, p.State, p.Classification)
	}
	// Output:
	// jpn-node JPN up SECRET
	// kor-node KOR up SECRET
}
