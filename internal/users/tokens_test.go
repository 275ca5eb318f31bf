package users

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestTokensSingleUse(t *testing.T) {
	ts, err := OpenTokens(filepath.Join(t.TempDir(), "enroll-tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok, rec, err := ts.Issue("viper1", time.Hour)
	if err != nil || !LooksLikeToken(tok) || rec.User != "viper1" {
		t.Fatalf("issue: %v %+v", err, rec)
	}
	if _, err := ts.Check(tok); err != nil {
		t.Fatal(err)
	}
	// Concurrent consumers: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan struct{}, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ts.Consume(tok, "x"); err == nil {
				wins <- struct{}{}
			} else if !errors.Is(err, ErrTokenUsed) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Errorf("%d consumers won", len(wins))
	}
	// A second process (a fresh handle on the file) sees it used.
	ts2, _ := OpenTokens(ts.path)
	if _, err := ts2.Check(tok); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("reopened: %v", err)
	}
	if _, err := ts.Check("kzt_nope"); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("unknown: %v", err)
	}
	if _, _, err := ts.Issue("viper1", 31*24*time.Hour); err == nil {
		t.Error("over-long validity accepted")
	}
	exp, _, _ := ts.Issue("viper1", time.Minute)
	ts.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	if _, err := ts.Consume(exp, "x"); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired: %v", err)
	}
	list, _ := ts.List()
	if len(list) != 2 {
		t.Errorf("list %+v", list)
	}
}
