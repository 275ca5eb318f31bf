package node

import "kizuna/internal/label"

// metricsClearance is the clearance a principal of the node's own nation
// needs to read /metrics: the highest classification of the node's feeds,
// whose names and counters the metrics carry (GET /api/v1/feeds shows a
// feed only to who may see its label). Without feeds it is UNCLASSIFIED.
func (n *Node) metricsClearance() label.Classification {
	c := label.Unclassified
	for _, fc := range n.cfg.Feeds {
		if l, err := FeedLabel(n.cfg.Nation, fc); err == nil && l.Classification > c {
			c = l.Classification
		}
	}
	return c
}
