package federation

// OnLinkUp registers fn, called (on its own goroutine) with the peer's
// node id each time a link to a peer comes up: for extensions that must
// bring a peer up to date with state the durable queues do not hold (a
// peer that joined late, or lost its state).
func (f *Federation) OnLinkUp(fn func(peer string)) {
	f.hookMu.Lock()
	defer f.hookMu.Unlock()
	f.onUp = append(f.onUp, fn)
}

func (f *Federation) linkUp(peer string) {
	f.hookMu.Lock()
	fns := f.onUp
	f.hookMu.Unlock()
	for _, fn := range fns {
		go fn(peer)
	}
}
