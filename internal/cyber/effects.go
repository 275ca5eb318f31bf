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
	// byObj holds, per object (namespace and STIX id), the effects of
	// each stored version by normalised version. A revoked version has
	// none. A principal sees the effects of the last version it may see.
	byObj map[objKey]map[string][]Effect
	// labels of each version, for the visibility of versions without
	// effects (revoked ones).
	vlabel map[objKey]map[string]label.Label
}

// objKey is one object: a STIX id in the namespace of an originating
// nation and a classification (another nation's object with the same id
// is another object).
type objKey struct {
	orig string
	cls  label.Classification
	id   string
}

// NewEffects returns an empty tracker.
func NewEffects() *Effects {
	return &Effects{byObj: map[objKey]map[string][]Effect{}, vlabel: map[objKey]map[string]label.Label{}}
}

// Observe takes one stored STIX object version.
func (e *Effects) Observe(o *stix.Object, l label.Label) {
	if o.Type != "incident" && o.Type != "sighting" && o.Type != "observed-data" {
		return
	}
	var m struct {
		Name     string   `json:"name"`
		Affected []string `json:"x_kizuna_affected_uids"`
		Revoked  bool     `json:"revoked"`
	}
	if json.Unmarshal(o.Raw, &m) != nil {
		return
	}
	k := objKey{l.Originator, l.Classification, o.ID}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(m.Affected) == 0 && e.byObj[k] == nil {
		return // never had effects
	}
	var out []Effect
	if !m.Revoked {
		for _, uid := range m.Affected {
			if uid == "" || len(uid) > 200 {
				continue
			}
			out = append(out, Effect{UID: uid, STIXID: o.ID, Type: o.Type, Name: m.Name, Modified: o.Version(), Label: l, Marking: l.Marking()})
		}
	}
	nv := stix.NormVersion(o.Version())
	if e.byObj[k] == nil {
		e.byObj[k], e.vlabel[k] = map[string][]Effect{}, map[string]label.Label{}
	}
	e.byObj[k][nv], e.vlabel[k][nv] = out, l
}

// Replace takes fresh's state as e's (fresh is not used after): for a
// tracker rebuilt from the store.
func (e *Effects) Replace(fresh *Effects) {
	fresh.mu.Lock()
	byObj, vlabel := fresh.byObj, fresh.vlabel
	fresh.mu.Unlock()
	e.mu.Lock()
	e.byObj, e.vlabel = byObj, vlabel
	e.mu.Unlock()
}

// Forget drops version nver ("" for every version) of object id in the
// namespace of l, after a deletion.
func (e *Effects) Forget(l label.Label, id, nver string) {
	k := objKey{l.Originator, l.Classification, id}
	e.mu.Lock()
	defer e.mu.Unlock()
	if nver == "" {
		delete(e.byObj, k)
		delete(e.vlabel, k)
		return
	}
	delete(e.byObj[k], nver)
	delete(e.vlabel[k], nver)
	if len(e.byObj[k]) == 0 {
		delete(e.byObj, k)
		delete(e.vlabel, k)
	}
}

// For returns the effects principal p may see, ordered by uid: for each
// object, those of its last version p may see.
func (e *Effects) For(p label.Principal) []Effect {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := []Effect{}
	for k, vers := range e.byObj {
		last := ""
		for v := range vers {
			if v > last && label.Releasable(p, e.vlabel[k][v]) {
				last = v
			}
		}
		if last == "" {
			continue
		}
		for _, f := range vers[last] {
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

// Labels returns the labels of the effects on uid, for every principal
// (each label says who may learn of its effect). It is for derived
// ratings such as readiness, which carry these labels on.
func (e *Effects) Labels(uid string) []label.Label {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []label.Label
	for _, vers := range e.byObj {
		last := ""
		for v := range vers {
			last = max(last, v)
		}
		for _, f := range vers[last] {
			if f.UID == uid {
				out = append(out, f.Label)
			}
		}
	}
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
