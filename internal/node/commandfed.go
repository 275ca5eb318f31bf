package node

import (
	"kizuna/internal/command"
	"kizuna/internal/federation"
	"kizuna/internal/hub"
)

// wireCommandFederation hands the chain of command the support requests,
// their updates and the released national orders that arrive from allied
// nodes (command.FedType events, verified and label-checked by the
// federation), with the label and origin node the federation verified.
func (n *Node) wireCommandFederation(svc *command.Service) {
	n.AddTap(func(m *hub.Message, fed *federation.Provenance) {
		if fed == nil || m.Event == nil || m.Event.Type != command.FedType {
			return
		}
		if !svc.EnqueueRemote(m.Event, m.Label, fed.OriginNode) {
			n.log.Warn("command: federated message queue full; message dropped", "uid", m.UID)
		}
	})
}
