package protocol

import (
	"encoding/json"
	"fmt"
	"maps"
	"unicode/utf8"
)

// DerivedUpdate is what a control-plane job computed for one customer:
// derived fields to set and derived fields to remove. The control plane
// stores it apart from the profile (a job rewrites it for every customer
// without reading or rewriting the profile), overlays it on the profile's
// own Derived fields whenever it reads a profile, and sends it to agents,
// which apply it to the profile they cache. Unset names fields the job
// owns but did not compute for this customer (an RFM score for a customer
// without purchases): they hide a stale value of the same name, from an
// import or an earlier run.
type DerivedUpdate struct {
	Set   map[string]any `json:"set,omitempty"`
	Unset []string       `json:"unset,omitempty"`
}

// Validate checks an update as a job supplies it: Set's names and values
// as Profile.Validate checks Derived, Unset's names likewise, and no name
// in both.
func (u *DerivedUpdate) Validate(id string) error {
	p := Profile{ID: id, Derived: u.Set}
	if err := p.Validate(); err != nil {
		return err
	}
	if len(u.Set)+len(u.Unset) > MaxProfileAttributes {
		return fmt.Errorf("customer %s: more than %d derived fields", id, MaxProfileAttributes)
	}
	for _, k := range u.Unset {
		if k == "" || len(k) > MaxAttributeName || !utf8.ValidString(k) {
			return fmt.Errorf("customer %s: derived field name %q: 1 to %d bytes of UTF-8", id, k, MaxAttributeName)
		}
		if _, ok := u.Set[k]; ok {
			return fmt.Errorf("customer %s: derived field %s both set and unset", id, k)
		}
	}
	return nil
}

// ApplyTo overlays u on p's Derived fields.
func (u *DerivedUpdate) ApplyTo(p *Profile) {
	if len(u.Set) == 0 && len(u.Unset) == 0 {
		return
	}
	if p.Derived == nil {
		p.Derived = make(map[string]any, len(u.Set))
	}
	for _, k := range u.Unset {
		delete(p.Derived, k)
	}
	maps.Copy(p.Derived, u.Set)
	if len(p.Derived) == 0 {
		p.Derived = nil
	}
}

// AppendJSON appends u as JSON, as encoding/json would write it (names in
// sorted order, Unset as given), without reflection.
func (u *DerivedUpdate) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if len(u.Set) > 0 {
		b = append(b, `"set":`...)
		b = appendAttributesJSON(b, u.Set)
	}
	if len(u.Unset) > 0 {
		if len(u.Set) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"unset":[`...)
		for i, k := range u.Unset {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// DecodeDerivedUpdate decodes what AppendJSON wrote (or any JSON of that
// shape).
func DecodeDerivedUpdate(b []byte) (DerivedUpdate, error) {
	d := jsonScanner{b: b}
	var u DerivedUpdate
	if d.derivedUpdate(&u) && d.end() {
		return u, nil
	}
	u = DerivedUpdate{}
	if err := json.Unmarshal(b, &u); err != nil {
		return u, fmt.Errorf("derived update: %w", err)
	}
	for k, v := range u.Set {
		switch v.(type) {
		case float64, bool, string:
		default:
			return u, fmt.Errorf("derived update: field %s: %T is not a number, boolean or string", k, v)
		}
	}
	return u, nil
}

func (d *jsonScanner) derivedUpdate(u *DerivedUpdate) bool {
	return d.object(func(k string) (bit uint8, ok bool) {
		switch k {
		case "set":
			u.Set, ok = d.attributes()
			return 1, ok
		case "unset":
			u.Unset, ok = d.strings()
			return 2, ok
		}
		return 0, false
	})
}

func (d *jsonScanner) strings() ([]string, bool) {
	if !d.consume('[') {
		return nil, false
	}
	out := []string{}
	if d.consume(']') {
		return out, true
	}
	for {
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if d.consume(',') {
			continue
		}
		return out, d.consume(']')
	}
}
