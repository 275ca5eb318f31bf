package mission

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"kizuna/internal/files"
	"kizuna/internal/label"
)

// FileStore reads and writes file contents (package files), for mission
// packages; nil: packages are not served.
type FileStore interface {
	Open(p label.Principal, hash string) (io.ReadCloser, files.Meta, error)
	Put(ctx context.Context, p label.Principal, req files.PutRequest, r io.Reader) (files.Meta, error)
}

// Bounds of an imported mission package.
const (
	maxPackage      = 64 << 20
	maxPackageFiles = 256
)

// Archive writes a mission as a TAK data package (a zip with
// MANIFEST/manifest.xml) as p sees it: the files and the latest CoT of
// the uids that the mission's and each item's labels release to p.
func (s *Service) Archive(p label.Principal, ref string, w io.Writer) error {
	s.mu.RLock()
	m, ok := s.visible(p, ref)
	if !ok {
		s.mu.RUnlock()
		return ErrNotFound
	}
	name, guid := m.Name, m.GUID
	var items []Item
	if mayRead(m, p) {
		for _, it := range m.Items {
			if label.Releasable(p, it.Label) {
				items = append(items, it)
			}
		}
	}
	s.mu.RUnlock()
	zw := zip.NewWriter(w)
	var man bytes.Buffer
	fmt.Fprintf(&man, `<MissionPackageManifest version="2"><Configuration><Parameter name="uid" value="%s"/><Parameter name="name" value="%s"/><Parameter name="mission_guid" value="%s"/></Configuration><Contents>`, esc(guid), esc(name), esc(guid))
	for _, it := range items {
		switch it.Kind {
		case KindUID:
			if s.cfg.Objects == nil {
				continue
			}
			o, ok := s.cfg.Objects.Latest(it.Key)
			if !ok || !label.Releasable(p, o.Label) || len(o.XML) == 0 {
				continue
			}
			fn := "cot/" + safeName(it.Key) + ".cot"
			f, err := zw.Create(fn)
			if err != nil {
				return err
			}
			f.Write(o.XML)
			fmt.Fprintf(&man, `<Content ignore="false" zipEntry="%s"><Parameter name="uid" value="%s"/></Content>`, esc(fn), esc(it.Key))
		case KindHash:
			if s.cfg.Store == nil {
				continue
			}
			rc, meta, err := s.cfg.Store.Open(p, it.Key)
			if err != nil {
				continue
			}
			fn := it.Key[:min(len(it.Key), 16)] + "/" + safeName(meta.Name)
			f, err := zw.Create(fn)
			if err == nil {
				_, err = io.Copy(f, rc)
			}
			rc.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(&man, `<Content ignore="false" zipEntry="%s"><Parameter name="hash" value="%s"/></Content>`, esc(fn), esc(it.Key))
		}
	}
	man.WriteString("</Contents></MissionPackageManifest>")
	f, err := zw.Create("MANIFEST/manifest.xml")
	if err != nil {
		return err
	}
	f.Write(man.Bytes())
	return zw.Close()
}

func safeName(s string) string {
	s = path.Base(strings.ReplaceAll(s, "\\", "/"))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '<' || r == '>' || r == '&' {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." || s == "/" {
		s = "file"
	}
	return s
}

// ImportPackage files the contents of a data package (zip) in a mission:
// every file but the manifest goes to the file store under the label l
// (the uploader's default when nil) and is added as content. CoT inside
// the package is not submitted (it would bypass the stream's write
// rules); its files are stored like the others.
func (s *Service) ImportPackage(ctx context.Context, p label.Principal, ref, creatorUID string, l *label.Label, body []byte) (*View, error) {
	if s.cfg.Store == nil {
		return nil, fmt.Errorf("%w: no file store", ErrInvalid)
	}
	s.mu.RLock()
	_, err := s.writable(p, ref)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("%w: not a zip: %v", ErrInvalid, err)
	}
	if len(zr.File) > maxPackageFiles {
		return nil, fmt.Errorf("%w: more than %d files", ErrInvalid, maxPackageFiles)
	}
	// The sizes a zip declares bind its reader (a file that inflates past
	// its size fails), so their sum bounds what a package may write: a
	// small archive cannot fill the disk.
	var total uint64
	for _, zf := range zr.File {
		total += zf.UncompressedSize64
	}
	if total > maxPackage {
		return nil, fmt.Errorf("%w: package inflates to more than %d bytes", ErrInvalid, maxPackage)
	}
	var hashes []string
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || strings.EqualFold(zf.Name, "MANIFEST/manifest.xml") {
			continue
		}
		if zf.UncompressedSize64 > maxPackage {
			return nil, fmt.Errorf("%w: %s too large", ErrInvalid, zf.Name)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, zf.Name, err)
		}
		meta, err := s.cfg.Store.Put(ctx, p, files.PutRequest{Name: safeName(zf.Name), ContentType: "application/octet-stream", CreatorUID: creatorUID, Label: l},
			io.LimitReader(rc, maxPackage))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, zf.Name, err)
		}
		hashes = append(hashes, meta.Hash)
	}
	return s.AddContents(ctx, p, ref, creatorUID, nil, hashes)
}
