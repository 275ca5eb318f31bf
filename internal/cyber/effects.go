package cyber

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// AffectedProperty is the custom property by which an incident or a
// sighting names the picture objects (CoT uids, ORBAT unit ids) it
// affects, for example a unit's command post network.
const AffectedProperty = "x_kizuna_affected_uids"

// Effect is one cyber object affecting one picture object.
type Effect struct {
	UID      string      `json:"uid"`
	STIXID   string      `json:"stixId"`
	Type     string      `json:"type"`
	Name     string      `json:"name,omitempty"`
	Modified string      `json:"modified"`
	Label    label.Label `json:"label"`
	Marking  string      `json:"marking"`
}

// Effects remembers, per picture uid, the cyber objects that reference it.
type Effects struct {
	mu sync.RWMutex
	// byObj holds the latest version of each STIX object with effects.
	byObj map[string][]Effect
}

// NewEffects returns an empty tracker.
func NewEffects() *Effects { return &Effects{byObj: map[string][]Effect{}} }

// Observe takes one stored STIX object version.
func (e *Effects) Observe(o *stix.Object, l label.Label) {
	if o.Type != "incident" && o.Type != "sighting" && o.Type != "observed-data" {
		return
	}
	var m struct {
		Name     string   `json:"name"`
		Affected []string `json:"x_kizuna_affected_uids"`
	}
	if json.Unmarshal(o.Raw, &m) != nil || len(m.Affected) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur := e.byObj[o.ID]; len(cur) > 0 && stix.NormVersion(cur[0].Modified) > stix.NormVersion(o.Version()) {
		return // an older version arriving late changes nothing
	}
	var out []Effect
	for _, uid := range m.Affected {
		if uid == "" || len(uid) > 200 {
			continue
		}
		out = append(out, Effect{UID: uid, STIXID: o.ID, Type: o.Type, Name: m.Name, Modified: o.Version(), Label: l, Marking: l.Marking()})
	}
	e.byObj[o.ID] = out
}

// For returns the effects principal p may see, ordered by uid.
func (e *Effects) For(p label.Principal) []Effect {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := []Effect{}
	for _, effs := range e.byObj {
		for _, f := range effs {
			if label.Releasable(p, f.Label) {
				out = append(out, f)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UID != out[j].UID {
			return out[i].UID < out[j].UID
		}
		return out[i].STIXID < out[j].STIXID
	})
	return out
}

// Handler serves GET: {"effects":[…]} for the request's principal.
func (e *Effects) Handler(principal func(*http.Request) (label.Principal, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := principal(r)
		if !ok {
			http.Error(w, "no principal", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"effects": e.For(p)})
	})
}
