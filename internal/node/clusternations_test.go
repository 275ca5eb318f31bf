package node

import (
	"fmt"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/taktest"
)

// TestClusterNationTokens measures what release tokens spare an instance:
// a JPN instance publishes 60 UNCLASSIFIED events, a third releasable to
// JPN only, a third to JPN and USA, a third to all; a KOR instance
// receives all 60 with level filtering alone and only the 20 KOR may see
// with the node's nations as tokens, and its client gets those 20 either
// way.
func TestClusterNationTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		nations []string
		want    uint64
	}{
		{"levels only", nil, 60},
		{"release tokens", []string{"JPN", "KOR", "USA"}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pgURL := clustertest.Postgres(t)
			natsURL, prefix := clustertest.NATS(t)
			ca := clusterConfig(prefix, natsURL, pgURL, "a", "JPN:UNCLASSIFIED")
			cc := clusterConfig(prefix, natsURL, pgURL, "c", "KOR:UNCLASSIFIED")
			ca.ClusterNations, cc.ClusterNations = tc.nations, tc.nations
			cc.Listeners = cc.Listeners[:1] // clients of KOR only
			a, c := startNode(t, ca), startNode(t, cc)
			jpn := dial(t, addrOf(t, a, KindCoTTCP, "JPN:UNCLASSIFIED"))
			kor := dial(t, addrOf(t, c, KindCoTTCP, "KOR:UNCLASSIFIED"))
			for i := range 20 {
				jpn.SendEvent(event(fmt.Sprintf("j-%d", i), "a-f-G-U-C", `access="UNCLASSIFIED"`))
				jpn.SendEvent(event(fmt.Sprintf("ju-%d", i), "a-f-G-U-C", `access="UNCLASSIFIED" releasableTo="USA"`))
				jpn.SendEvent(event(fmt.Sprintf("all-%d", i), "a-f-G-U-C", `access="UNCLASSIFIED" releasableTo="USA KOR"`))
			}
			// The last event published is releasable to KOR: once c has it,
			// it has everything it will receive.
			kor.Expect("the last event", isUID("all-19"), 20*time.Second)
			got := map[string]bool{"all-19": true}
			for _, ev := range kor.Collect(300 * time.Millisecond) {
				got[ev.UID] = true
			}
			taktest.WaitUntil(t, "c's counters", 10*time.Second, func() bool {
				st, _ := c.Cluster()
				return st.Bus.Received >= tc.want && st.Bus.Lag == 0
			})
			time.Sleep(200 * time.Millisecond) // anything beyond want would have arrived with the rest
			st, _ := c.Cluster()
			t.Logf("%s: instance c received %d of 60 events (%d bytes), filters %v", tc.name, st.Bus.Received, st.Bus.BytesReceived, st.Filters)
			if st.Bus.Received != tc.want {
				t.Errorf("instance c received %d events, want %d", st.Bus.Received, tc.want)
			}
			for uid := range got {
				if uid[0] != 'a' {
					t.Errorf("KOR client got %s", uid)
				}
			}
		})
	}
}
