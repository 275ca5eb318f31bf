package mission

import (
	"context"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"kizuna/internal/files"
	"kizuna/internal/label"
)

// maxPassword bounds a mission password (bcrypt reads 72 bytes).
const maxPassword = 72

func hashPassword(pw string) (string, error) {
	if len(pw) > maxPassword {
		return "", fmt.Errorf("%w: password longer than %d bytes", ErrInvalid, maxPassword)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hashing mission password: %w", err)
	}
	return string(h), nil
}

func checkPassword(hash, pw string) bool {
	return pw != "" && len(pw) <= maxPassword && bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// mayRead reports whether p may read m's contents: any principal that
// sees m, unless m has a password; then only its owner and principals
// holding a role (who subscribed with the password or were given one).
func mayRead(m *Mission, p label.Principal) bool {
	return m.PasswordHash == "" || roleOf(m, p) != ""
}

// ownsClient reports whether the principal who (files.OwnerOf) may act for
// client uid: no live stream of another principal announced it.
func (s *Service) ownsClient(who, uid string) bool {
	if s.cfg.Clients == nil {
		return true
	}
	for _, p := range s.cfg.Clients(uid) {
		if files.OwnerOf(p) != who {
			return false
		}
	}
	return true
}

// deliverable reports whether a notice for sub may be directed to its
// client uid now: a live stream holds the uid, and every stream holding
// it is the subscription's principal (the hub delivers a directed event
// to every stream with that uid).
func (s *Service) deliverable(sub Subscription) bool {
	if s.cfg.Clients == nil {
		return true
	}
	ps := s.cfg.Clients(sub.ClientUID)
	if len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		if files.OwnerOf(p) != sub.Owner {
			return false
		}
	}
	return true
}

// SetPassword sets (or, with "", removes) a mission's password; only its
// owner may.
func (s *Service) SetPassword(ctx context.Context, p label.Principal, ref, password string) error {
	var hash string
	if password != "" {
		var err error
		if hash, err = hashPassword(password); err != nil {
			return err
		}
	}
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, err := s.writable(p, ref)
	if err != nil {
		return err
	}
	if roleOf(m, p) != RoleOwner {
		return ErrForbidden
	}
	next := *m
	next.PasswordHash = hash
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return fmt.Errorf("saving password: %w", err)
	}
	*m = next
	mc := *m
	s.federate(ctx, &mc, &Change{Type: fedUpdate, Label: m.Label, At: s.cfg.Now().UTC()})
	return nil
}
