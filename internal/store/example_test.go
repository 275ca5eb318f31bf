package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "kizuna-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(store.Config{Dir: dir, HistoryRetention: store.DefaultHistoryRetention})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	// The hub's hot path: Put never waits for the disk.
	now := time.Now()
	s.Put(store.Object{
		UID: "USFJ-HQ", Type: "a-f-G-U-C", Owner: "USA",
		Label: label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Originator: "USA"},
		Time:  now, Stale: now.Add(time.Hour), Lat: 35.7, Lon: 139.3,
		Callsign: "USFJ", XML: []byte(`<event .../>`),
	})

	// Shutdown: stop Run (it makes a final flush), then Close.
	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	// Restart: the objects and their owners are back.
	s, err = store.Open(store.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	objs, err := s.Objects(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	owners, err := s.Owners(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range objs {
		fmt.Println(o.UID, o.Callsign, o.Label.Marking(), "owned by", owners[o.UID])
	}
	// Output: USFJ-HQ USFJ SECRET//REL TO JPN, KOR, USA owned by USA
}
