package mission

import (
	"slices"
	"strings"
	"time"

	"kizuna/internal/label"
)

// TimeFormat is how TAK Server writes times in the Mission API.
const TimeFormat = "2006-01-02T15:04:05.000Z"

func ts(t time.Time) string { return t.UTC().Format(TimeFormat) }

// View is a mission as one principal sees it, in TAK Server's shape (plus
// Kizuna's labels). Lists hold only what the caller may see.
type View struct {
	Name              string         `json:"name"`
	Description       string         `json:"description"`
	ChatRoom          string         `json:"chatRoom"`
	BaseLayer         string         `json:"baseLayer"`
	BBox              string         `json:"bbox"`
	Path              string         `json:"path"`
	Classification    string         `json:"classification"`
	Tool              string         `json:"tool"`
	Keywords          []string       `json:"keywords"`
	CreatorUID        string         `json:"creatorUid"`
	CreateTime        string         `json:"createTime"`
	ExternalData      []any          `json:"externalData"`
	Feeds             []any          `json:"feeds"`
	MapLayers         []any          `json:"mapLayers"`
	OwnerRole         *RoleView      `json:"ownerRole,omitempty"`
	InviteOnly        bool           `json:"inviteOnly"`
	Expiration        int64          `json:"expiration"`
	GUID              string         `json:"guid"`
	UIDs              []UIDView      `json:"uids"`
	Contents          []ContentEntry `json:"contents"`
	PasswordProtected bool           `json:"passwordProtected"`
	Groups            []string       `json:"groups"`
	Logs              []LogView      `json:"logs,omitempty"`
	MissionChanges    []ChangeView   `json:"missionChanges,omitempty"`
	Token             string         `json:"token,omitempty"`
	Label             label.Label    `json:"label"`
	Marking           string         `json:"marking"`
	// Origin is the node a federated mission comes from.
	Origin string `json:"origin,omitempty"`
}

// RoleView is a role with its permissions.
type RoleView struct {
	Permissions []string `json:"permissions"`
	Type        Role     `json:"type"`
}

func roleView(r Role) *RoleView {
	if r == "" {
		return nil
	}
	return &RoleView{Permissions: r.permissions(), Type: r}
}

// Location is a point.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Details describes a CoT item.
type Details struct {
	Type     string   `json:"type"`
	Callsign string   `json:"callsign"`
	Location Location `json:"location"`
}

// UIDView is a CoT uid filed in a mission.
type UIDView struct {
	Data       string      `json:"data"`
	Timestamp  string      `json:"timestamp"`
	CreatorUID string      `json:"creatorUid"`
	Details    *Details    `json:"details,omitempty"`
	Label      label.Label `json:"label"`
}

// Content is a file filed in a mission (TAK Server's MissionContent).
type Content struct {
	Keywords       []string `json:"keywords"`
	MimeType       string   `json:"mimeType"`
	Name           string   `json:"name"`
	Hash           string   `json:"hash"`
	SubmissionTime string   `json:"submissionTime"`
	Submitter      string   `json:"submitter"`
	UID            string   `json:"uid"`
	Size           int64    `json:"size"`
	CreatorUID     string   `json:"creatorUid"`
}

// ContentEntry is one content of a mission.
type ContentEntry struct {
	Timestamp  string      `json:"timestamp"`
	CreatorUID string      `json:"creatorUid"`
	Data       Content     `json:"data"`
	Label      label.Label `json:"label"`
}

// ChangeView is one change as TAK Server reports it. It has no sequence
// number: ordering is by time, and the list is built per view.
type ChangeView struct {
	IsFederatedChange bool        `json:"isFederatedChange"`
	Type              string      `json:"type"`
	MissionName       string      `json:"missionName"`
	MissionGUID       string      `json:"missionGuid"`
	Timestamp         string      `json:"timestamp"`
	ServerTime        string      `json:"serverTime"`
	CreatorUID        string      `json:"creatorUid"`
	ContentUID        string      `json:"contentUid,omitempty"`
	Details           *Details    `json:"details,omitempty"`
	ContentResource   *Content    `json:"contentResource,omitempty"`
	Label             label.Label `json:"label"`
}

// LogView is a log entry as TAK Server reports it.
type LogView struct {
	ID            string      `json:"id"`
	Content       string      `json:"content"`
	CreatorUID    string      `json:"creatorUid"`
	MissionNames  []string    `json:"missionNames"`
	ServerTime    string      `json:"servertime"`
	DTG           string      `json:"dtg"`
	Created       string      `json:"created"`
	ContentHashes []string    `json:"contentHashes"`
	Keywords      []string    `json:"keywords"`
	Label         label.Label `json:"label"`
}

// SubscriptionView is a subscription as TAK Server reports it.
type SubscriptionView struct {
	Token      string    `json:"token,omitempty"`
	ClientUID  string    `json:"clientUid"`
	Username   string    `json:"username"`
	CreateTime string    `json:"createTime"`
	Role       *RoleView `json:"role"`
}

// ViewOf renders a subscription; the token only for its own principal.
func ViewOf(sub Subscription, withToken bool) SubscriptionView {
	v := SubscriptionView{ClientUID: sub.ClientUID, Username: sub.Principal.Name, CreateTime: ts(sub.Created), Role: roleView(sub.Role)}
	if v.Username == "" {
		v.Username = sub.Owner
	}
	if withToken {
		v.Token = sub.Token
	}
	return v
}

// Window selects changes by time: Since (secago), Start and End.
type Window struct {
	Start, End time.Time
}

func (w Window) holds(t time.Time) bool {
	return (w.Start.IsZero() || !t.Before(w.Start)) && (w.End.IsZero() || !t.After(w.End))
}

// ViewOptions select the optional parts of a mission view.
type ViewOptions struct {
	Changes bool
	Logs    bool
	Window  Window
}

func fileContent(it Item) Content {
	return Content{Keywords: []string{}, MimeType: it.MIME, Name: it.Name, Hash: it.Key, SubmissionTime: ts(it.Added),
		Submitter: it.Submitter, UID: it.Key, Size: it.Size, CreatorUID: it.CreatorUID}
}

// view renders m for p; s.mu is held.
func (s *Service) view(p label.Principal, m *Mission, o ViewOptions) *View {
	v := &View{
		Name: m.Name, Description: m.Description, Classification: m.Label.Classification.String(), Tool: m.Tool,
		Keywords: slices.Clone(m.Keywords), CreatorUID: m.CreatorUID, CreateTime: ts(m.Created),
		ExternalData: []any{}, Feeds: []any{}, MapLayers: []any{}, OwnerRole: roleView(RoleOwner),
		Expiration: -1, GUID: m.GUID, UIDs: []UIDView{}, Contents: []ContentEntry{}, Groups: []string{"__ANON__"},
		Label: m.Label, Marking: m.Label.Marking(), Origin: m.Origin,
	}
	if v.Keywords == nil {
		v.Keywords = []string{}
	}
	read := mayRead(m, p)
	v.PasswordProtected = m.PasswordHash != ""
	for _, it := range m.Items {
		if !read || !label.Releasable(p, it.Label) {
			continue
		}
		switch it.Kind {
		case KindUID:
			v.UIDs = append(v.UIDs, UIDView{Data: it.Key, Timestamp: ts(it.Added), CreatorUID: it.CreatorUID, Label: it.Label,
				Details: &Details{Type: it.Type, Callsign: it.Callsign, Location: Location{Lat: it.Lat, Lon: it.Lon}}})
		case KindHash:
			v.Contents = append(v.Contents, ContentEntry{Timestamp: ts(it.Added), CreatorUID: it.CreatorUID, Data: fileContent(it), Label: it.Label})
		}
	}
	if o.Changes {
		v.MissionChanges = s.changeViews(p, m, o.Window)
	}
	if o.Logs {
		v.Logs = s.logViews(p, m)
	}
	return v
}

// changeViews is the change log of m that p may see; s.mu is held.
func (s *Service) changeViews(p label.Principal, m *Mission, w Window) []ChangeView {
	out := []ChangeView{}
	if !mayRead(m, p) {
		return out
	}
	for _, c := range s.changes[m.GUID] {
		if !w.holds(c.At) || !label.Releasable(p, c.Label) {
			continue
		}
		out = append(out, changeView(m, c))
	}
	return out
}

func changeView(m *Mission, c *Change) ChangeView {
	cv := ChangeView{Type: c.Type, MissionName: m.Name, MissionGUID: m.GUID, Timestamp: ts(c.At), ServerTime: ts(c.At),
		CreatorUID: c.CreatorUID, Label: c.Label}
	if it := c.Item; it != nil {
		switch it.Kind {
		case KindUID:
			cv.ContentUID = it.Key
			cv.Details = &Details{Type: it.Type, Callsign: it.Callsign, Location: Location{Lat: it.Lat, Lon: it.Lon}}
		case KindHash:
			fc := fileContent(*it)
			cv.ContentResource = &fc
		}
	}
	return cv
}

// logViews is the log of m that p may see, oldest first; s.mu is held.
func (s *Service) logViews(p label.Principal, m *Mission) []LogView {
	out := []LogView{}
	if !mayRead(m, p) {
		return out
	}
	var es []*LogEntry
	for _, e := range s.logs {
		if slices.Contains(e.GUIDs, m.GUID) && label.Releasable(p, e.Label) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *LogEntry) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, e := range es {
		out = append(out, logEntryView(s.logView(p, e)))
	}
	return out
}

func logEntryView(e LogEntry) LogView {
	return LogView{ID: e.ID, Content: e.Content, CreatorUID: e.CreatorUID, MissionNames: e.Missions, ServerTime: ts(e.Created),
		DTG: ts(e.DTG), Created: ts(e.Created), ContentHashes: orEmpty(e.Hashes), Keywords: orEmpty(e.Keywords), Label: e.Label}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// List returns the missions p may see, by name.
func (s *Service) List(p label.Principal) []*View {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []*View{}
	for _, m := range s.missions {
		if label.Releasable(p, m.Label) {
			out = append(out, s.view(p, m, ViewOptions{}))
		}
	}
	slices.SortFunc(out, func(a, b *View) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Get returns one mission as p sees it.
func (s *Service) Get(p label.Principal, name string, o ViewOptions) (*View, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.visible(p, name)
	if !ok {
		return nil, ErrNotFound
	}
	return s.view(p, m, o), nil
}

// Changes returns the change log of a mission as p sees it.
func (s *Service) Changes(p label.Principal, name string, w Window) ([]ChangeView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.visible(p, name)
	if !ok {
		return nil, ErrNotFound
	}
	return s.changeViews(p, m, w), nil
}

// Logs returns the log of a mission as p sees it.
func (s *Service) Logs(p label.Principal, name string) ([]LogView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.visible(p, name)
	if !ok {
		return nil, ErrNotFound
	}
	return s.logViews(p, m), nil
}
