package protocol

import (
	"sync"
	"sync/atomic"
)

// Strings interns the short strings that decoded profiles and contact
// events repeat: attribute names, agent ids, channels, outcomes, offer and
// campaign ids. An agent decodes one profile and one contact history per
// decision; with a table, only what is unique to the customer is allocated.
//
// The table holds at most max strings of at most MaxInternedLen bytes;
// once full, new strings are simply allocated, so hostile or unique values
// cannot grow it. A nil *Strings interns nothing.
//
// Lookups take no lock: they read a published map that is never written
// again. Strings added since the last publication wait in a small map
// under a mutex; the next map is published (the two copied into one) once
// that one holds a quarter as many strings as the published one, or the
// table is full, so the copying stays linear in the table's size. (A read
// lock on every lookup was 3% of an agent's CPU under load: two cores
// writing the same lock word.)
type Strings struct {
	published atomic.Pointer[map[string]string]
	full      atomic.Bool

	mu    sync.Mutex
	fresh map[string]string // added since published; guarded by mu
	n     int               // strings held in all; guarded by mu
	max   int
}

// MaxInternedLen is the longest string a Strings table keeps.
const MaxInternedLen = 64

// NewStrings returns a table of at most max strings.
func NewStrings(max int) *Strings {
	s := &Strings{fresh: map[string]string{}, max: max}
	s.published.Store(&map[string]string{})
	s.full.Store(max <= 0)
	return s
}

// Of returns b as a string, from the table when it is there (adding it
// while the table has room).
func (s *Strings) Of(b []byte) string {
	if s == nil || len(b) > MaxInternedLen {
		return string(b)
	}
	if v, ok := (*s.published.Load())[string(b)]; ok {
		return v
	}
	if s.full.Load() {
		return string(b)
	}
	return s.add(b)
}

func (s *Strings) add(b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	pub := *s.published.Load()
	if v, ok := pub[string(b)]; ok {
		return v
	}
	if v, ok := s.fresh[string(b)]; ok {
		return v
	}
	v := string(b)
	if s.n >= s.max {
		return v
	}
	s.fresh[v] = v
	s.n++
	if s.n == s.max || len(s.fresh) >= max(1, len(pub)/4) {
		next := make(map[string]string, len(pub)+len(s.fresh))
		for k, w := range pub {
			next[k] = w
		}
		for k, w := range s.fresh {
			next[k] = w
		}
		s.published.Store(&next)
		s.fresh = map[string]string{}
		s.full.Store(s.n == s.max)
	}
	return v
}

// Len is how many strings the table holds.
func (s *Strings) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
