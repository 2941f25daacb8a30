package protocol

import "sync"

// Strings interns the short strings that decoded profiles and contact
// events repeat: attribute names, agent ids, channels, outcomes, offer and
// campaign ids. An agent decodes one profile and one contact history per
// decision; with a table, only what is unique to the customer is allocated.
//
// The table holds at most max strings of at most MaxInternedLen bytes;
// once full, new strings are simply allocated, so hostile or unique values
// cannot grow it. Lookups share a read lock. A nil *Strings interns
// nothing.
type Strings struct {
	mu  sync.RWMutex
	m   map[string]string
	max int
}

// MaxInternedLen is the longest string a Strings table keeps.
const MaxInternedLen = 64

// NewStrings returns a table of at most max strings.
func NewStrings(max int) *Strings { return &Strings{m: map[string]string{}, max: max} }

// Of returns b as a string, from the table when it is there (adding it
// while the table has room).
func (s *Strings) Of(b []byte) string {
	if s == nil || len(b) > MaxInternedLen {
		return string(b)
	}
	s.mu.RLock()
	v, ok := s.m[string(b)]
	s.mu.RUnlock()
	if ok {
		return v
	}
	v = string(b)
	s.mu.Lock()
	if w, ok := s.m[v]; ok {
		v = w
	} else if len(s.m) < s.max {
		s.m[v] = v
	}
	s.mu.Unlock()
	return v
}

// Len is how many strings the table holds.
func (s *Strings) Len() int {
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
