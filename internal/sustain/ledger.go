package sustain

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"kizuna/internal/label"
)

// key names one balance.
type key struct{ item, loc, owner string }

type balance struct {
	qty   int64
	label label.Label
}

type serialPos struct {
	loc, owner, lot string
	expended        bool
}

// spend is one expenditure; cum is the running total of the quantities
// expended at its item and location, so that a window's sum is one
// subtraction after a binary search.
// It holds no pointers (the time is in Unix nanoseconds), so the
// garbage collector never scans these arrays.
type spend struct {
	t   int64
	qty int64
	cum int64
}

// maxSpends bounds the expenditure history kept per item and location.
const maxSpends = 4096

// ledger is the derived state of the movements: balances, serial
// positions and conservation totals. It is not safe for concurrent use;
// Service guards it.
type ledger struct {
	items    map[string]Item
	locs     map[string]*Location
	bal      map[key]*balance
	serials  map[string]map[string]serialPos // item → serial → position
	produced map[string]int64
	expended map[string]int64
	imported map[string]int64
	exported map[string]int64
	spends   map[[2]string][]spend // (item, location) → recent expenditures
	keys     map[string]int64      // idempotency key → seq
	lastSeq  int64
}

func newLedger(items []Item) *ledger {
	l := &ledger{
		items:    map[string]Item{},
		locs:     map[string]*Location{},
		bal:      map[key]*balance{},
		serials:  map[string]map[string]serialPos{},
		produced: map[string]int64{},
		expended: map[string]int64{},
		imported: map[string]int64{},
		exported: map[string]int64{},
		spends:   map[[2]string][]spend{},
		keys:     map[string]int64{},
	}
	for _, it := range items {
		l.items[it.Name] = it
	}
	return l
}

// check decides whether m may be recorded now. It changes nothing.
func (l *ledger) check(m *Movement) error {
	it, ok := l.items[m.Item]
	if !ok {
		return invalid("unknown item %q", m.Item)
	}
	if err := checkMovement(m); err != nil {
		return err
	}
	if err := l.checkStock(m); err != nil {
		return err
	}
	return l.checkSerials(it, m)
}

// checkMovement checks what a movement says on its own, before the
// ledger is looked at: quantity, reason, owners, label, and which
// reasons may touch the pseudo-locations and change the owner.
func checkMovement(m *Movement) error {
	if m.Quantity <= 0 || m.Quantity > maxQuantity {
		return invalid("quantity %d out of range 1..%d", m.Quantity, maxQuantity)
	}
	if !m.Reason.Valid() {
		return invalid("unknown reason %q", m.Reason)
	}
	if !label.ValidNation(m.FromOwner) || !label.ValidNation(m.ToOwner) {
		return invalid("owner nations must be ISO 3166 alpha-3 codes")
	}
	if !m.Label.Valid() {
		return invalid("movement without a valid label")
	}
	if !releasableToNation(m.FromOwner, m.Label) || !releasableToNation(m.ToOwner, m.Label) {
		return invalid("a movement's label must release it to both owner nations")
	}
	switch {
	case m.Reason == Production:
		if m.From != Source || pseudo(m.To) {
			return invalid("production acceptance moves from %s into a real location", Source)
		}
	case m.Reason == Expenditure:
		if m.To != Sink || pseudo(m.From) {
			return invalid("expenditure moves from a real location to %s", Sink)
		}
	case m.Reason == Transfer && (m.From == Import || m.To == Export):
		// A transfer between two nodes' ledgers: the receipt from
		// IMPORTED, the delivery into EXPORTED, both changing the owner.
		if (m.From == Import) == (m.To == Export) || pseudo(m.From) && m.From != Import || pseudo(m.To) && m.To != Export {
			return invalid("a transfer moves from %s into a real location or from a real location into %s", Import, Export)
		}
		if m.FromOwner == m.ToOwner || m.Ref == "" || m.Key == "" {
			return invalid("a transfer across nodes changes the owner and names its transfer and key")
		}
	default:
		if pseudo(m.From) || pseudo(m.To) {
			return invalid("only production acceptance, expenditure and transfers across nodes touch the pseudo-locations")
		}
	}
	if m.FromOwner != m.ToOwner && m.Reason != Transfer {
		return invalid("only a transfer changes the owner nation")
	}
	if m.Reason == Production && m.FromOwner != m.ToOwner {
		return invalid("production acceptance keeps one owner")
	}
	if m.From == m.To && m.FromOwner == m.ToOwner {
		return invalid("a movement goes somewhere")
	}
	return nil
}

// checkStock checks that m's real locations exist and that its source
// holds enough of the item for the owner.
func (l *ledger) checkStock(m *Movement) error {
	for _, loc := range []string{m.From, m.To} {
		if pseudo(loc) {
			continue
		}
		if _, ok := l.locs[loc]; !ok {
			return fmt.Errorf("%w: location %q", ErrNotFound, loc)
		}
	}
	if m.From != Source && m.From != Import {
		b := l.bal[key{m.Item, m.From, m.FromOwner}]
		if b == nil || b.qty < m.Quantity {
			have := int64(0)
			if b != nil {
				have = b.qty
			}
			return fmt.Errorf("%w: %s at %s (%s) holds %d, %d needed", ErrInsufficent, m.Item, m.From, m.FromOwner, have, m.Quantity)
		}
	}
	return nil
}

// checkSerials checks m's serials against item it: none for an item not
// serialised; otherwise one per unit, each new when produced or imported
// (or a round coming back from an ally), else where m takes it from.
func (l *ledger) checkSerials(it Item, m *Movement) error {
	if !it.Serialised {
		if len(m.Serials) > 0 {
			return invalid("%s is not serialised", m.Item)
		}
		return nil
	}
	if int64(len(m.Serials)) != m.Quantity {
		return invalid("%s is serialised: %d serials for quantity %d", m.Item, len(m.Serials), m.Quantity)
	}
	seen := make(map[string]bool, len(m.Serials))
	known := l.serials[m.Item]
	for _, s := range m.Serials {
		if err := checkName("serial", s); err != nil {
			return err
		}
		if seen[s] {
			return invalid("serial %q twice", s)
		}
		seen[s] = true
		pos, ok := known[s]
		if m.Reason == Production || m.From == Import {
			if ok && m.From == Import && pos.loc == Export {
				continue // a round coming back from an ally
			}
			if ok {
				return invalid("serial %s %q already exists", m.Item, s)
			}
			continue
		}
		if !ok || pos.expended || pos.loc != m.From || pos.owner != m.FromOwner {
			return invalid("serial %s %q is not at %s (%s)", m.Item, s, m.From, m.FromOwner)
		}
	}
	return nil
}

// undo remembers what staged movements changed, to take them back.
type undo struct {
	bal      map[key]*balance // nil: the balance did not exist
	serials  map[[2]string]*serialPos
	produced map[string]int64
	expended map[string]int64
	imported map[string]int64
	exported map[string]int64
	spends   map[[2]string][]spend
	keys     []string
	lastSeq  int64
}

func newUndo(l *ledger) *undo {
	return &undo{bal: map[key]*balance{}, serials: map[[2]string]*serialPos{}, produced: map[string]int64{},
		expended: map[string]int64{}, imported: map[string]int64{}, exported: map[string]int64{}, spends: map[[2]string][]spend{}, lastSeq: l.lastSeq}
}

// save records the state m is about to change, once per piece.
func (u *undo) save(l *ledger, m *Movement) {
	if m.Key != "" {
		u.keys = append(u.keys, m.Key)
	}
	if _, ok := u.produced[m.Item]; !ok {
		u.produced[m.Item] = l.produced[m.Item]
		u.expended[m.Item] = l.expended[m.Item]
		u.imported[m.Item] = l.imported[m.Item]
		u.exported[m.Item] = l.exported[m.Item]
	}
	for _, k := range []key{{m.Item, m.From, m.FromOwner}, {m.Item, m.To, m.ToOwner}} {
		if _, ok := u.bal[k]; ok {
			continue
		}
		if b := l.bal[k]; b != nil {
			c := *b
			u.bal[k] = &c
		} else {
			u.bal[k] = nil
		}
	}
	sk := [2]string{m.Item, m.From}
	if _, ok := u.spends[sk]; !ok {
		u.spends[sk] = slices.Clone(l.spends[sk])
	}
	for _, s := range m.Serials {
		k := [2]string{m.Item, s}
		if _, ok := u.serials[k]; ok {
			continue
		}
		if p, ok := l.serials[m.Item][s]; ok {
			u.serials[k] = &p
		} else {
			u.serials[k] = nil
		}
	}
}

// restore takes back every change saved in u.
func (u *undo) restore(l *ledger) {
	for k, b := range u.bal {
		if b == nil {
			delete(l.bal, k)
		} else {
			l.bal[k] = b
		}
	}
	for k, p := range u.serials {
		if p == nil {
			delete(l.serials[k[0]], k[1])
		} else {
			l.serials[k[0]][k[1]] = *p
		}
	}
	for it, q := range u.produced {
		l.produced[it] = q
		l.expended[it] = u.expended[it]
		l.imported[it] = u.imported[it]
		l.exported[it] = u.exported[it]
	}
	for k, s := range u.spends {
		if len(s) == 0 {
			delete(l.spends, k)
		} else {
			l.spends[k] = s
		}
	}
	for _, k := range u.keys {
		delete(l.keys, k)
	}
	l.lastSeq = u.lastSeq
}

// apply records a checked movement in the derived state.
func (l *ledger) apply(m *Movement) {
	if m.Seq > l.lastSeq {
		l.lastSeq = m.Seq
	}
	if m.Key != "" {
		l.keys[m.Key] = m.Seq
	}
	switch m.From {
	case Source:
		l.produced[m.Item] += m.Quantity
	case Import:
		l.imported[m.Item] += m.Quantity
	default:
		b := l.balance(key{m.Item, m.From, m.FromOwner})
		b.qty -= m.Quantity
		b.label = combine(m.FromOwner, b.label, m.Label)
	}
	if m.To == Export {
		l.exported[m.Item] += m.Quantity
	} else if m.To == Sink {
		l.expended[m.Item] += m.Quantity
		k := [2]string{m.Item, m.From}
		old := l.spends[k]
		sp := spend{t: m.Time.UnixNano(), qty: m.Quantity, cum: m.Quantity}
		if n := len(old); n > 0 {
			sp.cum += old[n-1].cum
			if sp.t < old[n-1].t {
				sp.t = old[n-1].t // keep the history ordered for the search
			}
		}
		s := append(old, sp)
		if len(s) > maxSpends {
			s = slices.Delete(s, 0, len(s)-maxSpends)
		}
		l.spends[k] = s
	} else {
		b := l.balance(key{m.Item, m.To, m.ToOwner})
		b.qty += m.Quantity
		b.label = combine(m.ToOwner, b.label, m.Label)
	}
	if len(m.Serials) > 0 {
		known := l.serials[m.Item]
		if known == nil {
			known = map[string]serialPos{}
			l.serials[m.Item] = known
		}
		for _, s := range m.Serials {
			lot := m.Lot
			if old, ok := known[s]; ok && lot == "" {
				lot = old.lot
			}
			known[s] = serialPos{loc: m.To, owner: m.ToOwner, lot: lot, expended: m.To == Sink || m.To == Export}
		}
	}
}

// balance returns the balance for k, creating it with the location's label.
func (l *ledger) balance(k key) *balance {
	b := l.bal[k]
	if b == nil {
		b = &balance{}
		if loc := l.locs[k.loc]; loc != nil {
			b.label = label.Combine(k.owner, loc.Label)
		} else {
			b.label = label.Label{Classification: label.Unclassified, Originator: k.owner, ReleasableTo: []string{k.owner}}
		}
		l.bal[k] = b
	}
	return b
}

// stocks returns every non-zero balance, sorted by item, location, owner.
func (l *ledger) stocks() []Stock {
	out := make([]Stock, 0, len(l.bal))
	for k, b := range l.bal {
		if b.qty == 0 {
			continue
		}
		out = append(out, Stock{Item: k.item, Location: k.loc, Owner: k.owner, Quantity: b.qty, Label: b.label})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Item != b.Item {
			return a.Item < b.Item
		}
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		return a.Owner < b.Owner
	})
	return out
}

// onHand sums the balances of item at loc over every owner in owners
// (every owner when empty) and combines their labels.
func (l *ledger) onHand(item, loc, owner string) (int64, label.Label, bool) {
	b := l.bal[key{item, loc, owner}]
	if b == nil {
		return 0, label.Label{}, false
	}
	return b.qty, b.label, true
}

// rate is the mean daily expenditure of item at loc over the window
// ending at now.
func (l *ledger) rate(item, loc string, now time.Time, window time.Duration) float64 {
	sp := l.spends[[2]string{item, loc}]
	from, to := now.Add(-window).UnixNano(), now.UnixNano()
	i := sort.Search(len(sp), func(i int) bool { return sp[i].t >= from })
	j := sort.Search(len(sp), func(i int) bool { return sp[i].t > to })
	if i >= j {
		return 0
	}
	sum := sp[j-1].cum - sp[i].cum + sp[i].qty
	return float64(sum) / (window.Hours() / 24)
}

// conservation checks that, per item, the real balances add up to what
// production accepted minus what was expended and that none is negative.
func (l *ledger) conservation() error {
	sums := map[string]int64{}
	for k, b := range l.bal {
		if b.qty < 0 {
			return fmt.Errorf("negative balance %d of %s at %s (%s)", b.qty, k.item, k.loc, k.owner)
		}
		sums[k.item] += b.qty
	}
	for item := range l.items {
		if want := l.produced[item] + l.imported[item] - l.expended[item] - l.exported[item]; sums[item] != want {
			return fmt.Errorf("%s: balances add to %d, produced %d + imported %d - expended %d - exported %d = %d",
				item, sums[item], l.produced[item], l.imported[item], l.expended[item], l.exported[item], want)
		}
	}
	for item, known := range l.serials {
		n := map[key]int64{}
		for _, p := range known {
			if !p.expended {
				n[key{item, p.loc, p.owner}]++
			}
		}
		for k, b := range l.bal {
			if k.item == item && b.qty != n[k] {
				return fmt.Errorf("%s at %s (%s): balance %d but %d serials", item, k.loc, k.owner, b.qty, n[k])
			}
		}
	}
	return nil
}

// equal compares the balances, counters and serials of two ledgers.
func (l *ledger) equal(o *ledger) error {
	if l.lastSeq != o.lastSeq {
		return fmt.Errorf("live ledger at movement %d, replay at %d", l.lastSeq, o.lastSeq)
	}
	for item := range l.items {
		a := [4]int64{l.produced[item], l.imported[item], l.expended[item], l.exported[item]}
		b := [4]int64{o.produced[item], o.imported[item], o.expended[item], o.exported[item]}
		if a != b {
			return fmt.Errorf("%s: live produced/imported/expended/exported %v, replay %v", item, a, b)
		}
	}
	for item, known := range l.serials {
		if len(known) != len(o.serials[item]) {
			return fmt.Errorf("%s: live %d serials, replay %d", item, len(known), len(o.serials[item]))
		}
		for s, p := range known {
			if o.serials[item][s] != p {
				return fmt.Errorf("%s serial %s: live at %s (%s), replay elsewhere", item, s, p.loc, p.owner)
			}
		}
	}
	if len(l.keys) != len(o.keys) {
		return fmt.Errorf("live %d idempotency keys, replay %d", len(l.keys), len(o.keys))
	}
	for k, b := range l.bal {
		ob := o.bal[k]
		oq := int64(0)
		if ob != nil {
			oq = ob.qty
		}
		if b.qty != oq {
			return fmt.Errorf("%s at %s (%s): live %d, replay %d", k.item, k.loc, k.owner, b.qty, oq)
		}
		if ob != nil && !b.label.Equal(ob.label) {
			return fmt.Errorf("%s at %s (%s): live label %s, replay %s", k.item, k.loc, k.owner, b.label.Marking(), ob.label.Marking())
		}
	}
	for k, ob := range o.bal {
		if _, ok := l.bal[k]; !ok && ob.qty != 0 {
			return fmt.Errorf("%s at %s (%s): replay %d, missing live", k.item, k.loc, k.owner, ob.qty)
		}
	}
	return nil
}

// combine is label.Combine(owner, acc, l) with a fast path for the usual
// case where l widens nothing: acc already combines owner's labels and l
// is no higher, carries no caveat (caveats combine by the originator
// rules of label.Combine), and releases to everyone acc does.
func combine(owner string, acc, l label.Label) label.Label {
	if acc.Originator == owner && acc.Classification.Valid() && l.Valid() &&
		l.Classification <= acc.Classification && l.Caveat == "" {
		covered := true
		for _, n := range acc.ReleasableTo {
			if n != l.Originator && !slices.Contains(l.ReleasableTo, n) {
				covered = false
				break
			}
		}
		if covered {
			return acc
		}
	}
	return label.Combine(owner, acc, l)
}
