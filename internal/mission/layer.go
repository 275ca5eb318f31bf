package mission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"kizuna/internal/label"
)

// Layer types, as TAK Server's MissionLayer names them.
var layerTypes = []string{"GROUP", "UID", "CONTENTS", "MAPLAYER", "ITEM"}

// Layer is one of a mission's layers (TAK Server's MissionLayer): a
// named folder, possibly under another. Layers are part of the mission and
// carry its label.
type Layer struct {
	UID        string `json:"uid"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	ParentUID  string `json:"parentUid,omitempty"`
	CreatorUID string `json:"creatorUid,omitempty"`
}

// LayerView is a layer as TAK Server reports it, with its sub-layers.
type LayerView struct {
	Name          string       `json:"name"`
	Type          string       `json:"type"`
	UID           string       `json:"uid"`
	ParentUID     string       `json:"parentUid,omitempty"`
	MissionLayers []*LayerView `json:"mission_layers,omitempty"`
	UIDs          []UIDView    `json:"uids,omitempty"`
	Contents      []any        `json:"contents,omitempty"`
	MapLayers     []any        `json:"maplayers,omitempty"`
}

// LayerRequest creates a layer.
type LayerRequest struct {
	Name, Type, UID, ParentUID, AfterUID, CreatorUID string
}

func checkLayerText(what, v string, empty bool) error {
	if (v == "" && !empty) || len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: layer %s %q", ErrInvalid, what, v)
	}
	return nil
}

// manageLayers returns the mission if p may manage its layers (owner, as
// MISSION_MANAGE_LAYERS is an owner's permission).
func (s *Service) manageLayers(p label.Principal, ref string) (*Mission, error) {
	m, err := s.writable(p, ref)
	if err != nil {
		return nil, err
	}
	if roleOf(m, p) != RoleOwner {
		return nil, ErrForbidden
	}
	return m, nil
}

// AddLayer creates a layer.
func (s *Service) AddLayer(ctx context.Context, p label.Principal, ref string, req LayerRequest) (*LayerView, error) {
	req.Type = strings.ToUpper(req.Type)
	if req.Type == "" {
		req.Type = "GROUP"
	}
	if !slices.Contains(layerTypes, req.Type) {
		return nil, fmt.Errorf("%w: layer type %q", ErrInvalid, req.Type)
	}
	if req.UID == "" {
		req.UID = newID()
	}
	for _, c := range []struct {
		what, v string
		empty   bool
	}{{"name", req.Name, false}, {"uid", req.UID, false}, {"parentUid", req.ParentUID, true}, {"afterUid", req.AfterUID, true}, {"creatorUid", req.CreatorUID, true}} {
		if err := checkLayerText(c.what, c.v, c.empty); err != nil {
			return nil, err
		}
	}
	if err := s.lockW(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	m, err := s.manageLayers(p, ref)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) >= maxItems {
		return nil, fmt.Errorf("%w: too many layers", ErrInvalid)
	}
	has := func(uid string) bool {
		return slices.ContainsFunc(m.Layers, func(l Layer) bool { return l.UID == uid })
	}
	if has(req.UID) {
		return nil, fmt.Errorf("%w: layer %q exists", ErrInvalid, req.UID)
	}
	if req.ParentUID != "" && !has(req.ParentUID) {
		return nil, fmt.Errorf("parent layer %s: %w", req.ParentUID, ErrNotFound)
	}
	l := Layer{UID: req.UID, Name: req.Name, Type: req.Type, ParentUID: req.ParentUID, CreatorUID: req.CreatorUID}
	next := *m
	next.Layers = slices.Clone(m.Layers)
	at := len(next.Layers)
	if req.AfterUID != "" {
		if i := slices.IndexFunc(next.Layers, func(x Layer) bool { return x.UID == req.AfterUID }); i >= 0 {
			at = i + 1
		}
	}
	next.Layers = slices.Insert(next.Layers, at, l)
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return nil, fmt.Errorf("saving layer: %w", err)
	}
	*m = next
	return layerTree(m.Layers, l.UID), nil
}

// RenameLayer renames a layer.
func (s *Service) RenameLayer(ctx context.Context, p label.Principal, ref, uid, name string) error {
	if err := checkLayerText("name", name, false); err != nil {
		return err
	}
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, err := s.manageLayers(p, ref)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(m.Layers, func(l Layer) bool { return l.UID == uid })
	if i < 0 {
		return fmt.Errorf("layer %s: %w", uid, ErrNotFound)
	}
	next := *m
	next.Layers = slices.Clone(m.Layers)
	next.Layers[i].Name = name
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return fmt.Errorf("saving layer: %w", err)
	}
	*m = next
	return nil
}

// DeleteLayers deletes layers and the layers under them.
func (s *Service) DeleteLayers(ctx context.Context, p label.Principal, ref string, uids []string) error {
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, err := s.manageLayers(p, ref)
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, u := range uids {
		if !slices.ContainsFunc(m.Layers, func(l Layer) bool { return l.UID == u }) {
			return fmt.Errorf("layer %s: %w", u, ErrNotFound)
		}
		gone[u] = true
	}
	for changed := true; changed; {
		changed = false
		for _, l := range m.Layers {
			if !gone[l.UID] && l.ParentUID != "" && gone[l.ParentUID] {
				gone[l.UID], changed = true, true
			}
		}
	}
	next := *m
	next.Layers = slices.DeleteFunc(slices.Clone(m.Layers), func(l Layer) bool { return gone[l.UID] })
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return fmt.Errorf("saving layers: %w", err)
	}
	*m = next
	return nil
}

// Layers returns the top-level layers of a mission p may read, each with
// its sub-layers.
func (s *Service) Layers(p label.Principal, ref string) ([]*LayerView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.visible(p, ref)
	if !ok {
		return nil, ErrNotFound
	}
	out := []*LayerView{}
	if !mayRead(m, p) {
		return out, nil
	}
	for _, l := range m.Layers {
		if l.ParentUID == "" {
			out = append(out, layerTree(m.Layers, l.UID))
		}
	}
	return out, nil
}

// layerTree renders the layer uid with its sub-layers.
func layerTree(ls []Layer, uid string) *LayerView {
	i := slices.IndexFunc(ls, func(l Layer) bool { return l.UID == uid })
	if i < 0 {
		return nil
	}
	l := ls[i]
	v := &LayerView{Name: l.Name, Type: l.Type, UID: l.UID, ParentUID: l.ParentUID}
	if l.Type == "UID" {
		v.UIDs = []UIDView{}
	}
	for _, c := range ls {
		if c.ParentUID == uid && c.UID != uid {
			v.MissionLayers = append(v.MissionLayers, layerTree(ls, c.UID))
		}
	}
	return v
}
