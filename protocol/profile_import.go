package protocol

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AppendProfileJSON appends p as JSON, byte for byte what json.Marshal
// writes (sorted keys, its number format, its string escaping), without
// reflection: an import encodes a million profiles in the CLI, and every
// control-plane node encodes each one again to store it. Attribute values
// must be finite float64, bool or string, as Validate requires; anything
// else is a broken invariant and panics.
func AppendProfileJSON(b []byte, p *Profile) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, p.ID)
	if p.Region != "" {
		b = append(b, `,"region":`...)
		b = appendJSONString(b, p.Region)
	}
	if len(p.Consents) > 0 {
		b = append(b, `,"consents":{`...)
		for i, k := range sortedNames(p.Consents) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendBool(b, p.Consents[k])
		}
		b = append(b, '}')
	}
	if p.DoNotDisturb {
		b = append(b, `,"doNotDisturb":true`...)
	}
	if len(p.Attributes) > 0 {
		b = append(b, `,"attributes":`...)
		b = appendAttributesJSON(b, p.Attributes)
	}
	if len(p.Derived) > 0 {
		b = append(b, `,"derived":`...)
		b = appendAttributesJSON(b, p.Derived)
	}
	if p.Index != 0 {
		b = append(b, `,"index":`...)
		b = strconv.AppendUint(b, p.Index, 10)
	}
	return append(b, '}')
}

// ProfileJSONSize is about the size of p's JSON, for sizing buffers.
func ProfileJSONSize(p *Profile) int {
	n := 64 + len(p.ID) + len(p.Region) + 16*len(p.Consents)
	for _, m := range []map[string]any{p.Attributes, p.Derived} {
		for k, v := range m {
			n += len(k) + 6
			if s, ok := v.(string); ok {
				n += len(s) + len(s)/8
			} else {
				n += 24
			}
		}
	}
	return n
}

func sortedNames[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type attr struct {
	k string
	v any
}

func appendAttributesJSON(b []byte, m map[string]any) []byte {
	b = append(b, '{')
	var small [32]attr
	attrs := small[:0]
	for k, v := range m {
		attrs = append(attrs, attr{k, v})
	}
	slices.SortFunc(attrs, func(x, y attr) int { return strings.Compare(x.k, y.k) })
	for i, a := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, a.k)
		b = append(b, ':')
		switch v := a.v.(type) {
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				panic(fmt.Sprintf("protocol: attribute %s is not a finite number", a.k))
			}
			b = appendJSONFloat(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			b = appendJSONString(b, v)
		default:
			panic(fmt.Sprintf("protocol: attribute %s of type %T reached the JSON encoder", a.k, v))
		}
	}
	return append(b, '}')
}

// appendJSONFloat formats a finite float64 as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	// Whole numbers (most imported attributes) print as integers, which is
	// what the 'f' format writes for them, only faster.
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 becomes e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s as encoding/json would: plain ASCII is copied,
// anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// DecodeProfilesJSON decodes a JSON array of profiles several times faster
// than encoding/json. It handles the common form only: exact field names,
// each field once, attribute values that are strings, numbers or booleans.
// Whenever it returns ok, the result is exactly what json.Unmarshal into a
// []Profile would give; for anything else it returns ok false and the
// caller decodes with encoding/json, which also explains what is wrong.
func DecodeProfilesJSON(b []byte) (out []Profile, ok bool) {
	d := jsonScanner{b: b}
	if !d.consume('[') {
		return nil, false
	}
	out = []Profile{}
	if d.consume(']') {
		return out, d.end()
	}
	for {
		var p Profile
		if !d.profile(&p) {
			return nil, false
		}
		out = append(out, p)
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			return out, d.end()
		}
		return nil, false
	}
}

type jsonScanner struct {
	b []byte
	i int
	// names interns attribute names: a batch repeats the same few.
	names map[string]string
	// strs, when set, interns them across calls instead.
	strs *Strings
}

func (d *jsonScanner) skip() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonScanner) consume(c byte) bool {
	d.skip()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *jsonScanner) end() bool {
	d.skip()
	return d.i == len(d.b)
}

func (d *jsonScanner) peek() byte {
	d.skip()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// str reads a string. Plain ones (no escapes, valid UTF-8) are sliced;
// others go through encoding/json.
func (d *jsonScanner) str() (string, bool) {
	d.skip()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	start := d.i
	plain := true
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			raw := d.b[start+1 : j]
			if plain && utf8.Valid(raw) {
				return string(raw), true
			}
			var s string
			if json.Unmarshal(d.b[start:j+1], &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			plain = false
			j++
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// key reads an object key and its colon; only plain keys are accepted.
func (d *jsonScanner) key() (string, bool) {
	d.skip()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	j := d.i + 1
	for j < len(d.b) && d.b[j] != '"' {
		if c := d.b[j]; c == '\\' || c < 0x20 {
			return "", false
		}
		j++
	}
	if j >= len(d.b) || !utf8.Valid(d.b[d.i+1:j]) {
		return "", false
	}
	raw := d.b[d.i+1 : j]
	if d.strs != nil {
		d.i = j + 1
		return d.strs.Of(raw), d.consume(':')
	}
	k, ok := d.names[string(raw)]
	if !ok {
		k = string(raw)
		if d.names == nil {
			d.names = map[string]string{}
		}
		if len(d.names) < 1024 {
			d.names[k] = k
		}
	}
	d.i = j + 1
	return k, d.consume(':')
}

// number reads a JSON number as encoding/json would into a float64.
func (d *jsonScanner) number() (float64, bool) {
	d.skip()
	start := d.i
	i := d.i
	if i < len(d.b) && d.b[i] == '-' {
		i++
	}
	switch {
	case i < len(d.b) && d.b[i] == '0':
		i++
	case i < len(d.b) && d.b[i] >= '1' && d.b[i] <= '9':
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	if i < len(d.b) && d.b[i] == '.' {
		i++
		n := i
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
		if i == n {
			return 0, false
		}
	}
	if i < len(d.b) && (d.b[i] == 'e' || d.b[i] == 'E') {
		i++
		if i < len(d.b) && (d.b[i] == '+' || d.b[i] == '-') {
			i++
		}
		n := i
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
		if i == n {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:i]), 64)
	if err != nil {
		return 0, false
	}
	d.i = i
	return f, true
}

// uint reads a number of digits only, as encoding/json reads a uint64.
func (d *jsonScanner) uint() (uint64, bool) {
	d.skip()
	j := d.i
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	if j == d.i || (d.b[d.i] == '0' && j > d.i+1) {
		return 0, false
	}
	if j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.b[d.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	d.i = j
	return v, true
}

func (d *jsonScanner) literal(word string) bool {
	d.skip()
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

func (d *jsonScanner) boolean() (bool, bool) {
	if d.literal("true") {
		return true, true
	}
	if d.literal("false") {
		return false, true
	}
	return false, false
}

// object scans an object whose fields field reads: it returns the
// field's bit (each name once) and whether its value scanned; bit 0 means
// a name the fast path does not take (unknown, or a case-insensitive
// match encoding/json would accept).
func (d *jsonScanner) object(field func(k string) (bit uint8, ok bool)) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	var seen uint8
	for {
		k, ok := d.key()
		if !ok {
			return false
		}
		bit, ok := field(k)
		if bit == 0 || !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

func (d *jsonScanner) profile(p *Profile) bool {
	return d.object(func(k string) (bit uint8, ok bool) {
		switch k {
		case "id":
			p.ID, ok = d.str()
			return 1, ok
		case "region":
			p.Region, ok = d.str()
			return 2, ok
		case "consents":
			p.Consents, ok = d.consents()
			return 4, ok
		case "doNotDisturb":
			p.DoNotDisturb, ok = d.boolean()
			return 8, ok
		case "attributes":
			p.Attributes, ok = d.attributes()
			return 16, ok
		case "derived":
			p.Derived, ok = d.attributes()
			return 32, ok
		case "index":
			p.Index, ok = d.uint()
			return 64, ok
		}
		return 0, false
	})
}

func (d *jsonScanner) consents() (map[string]bool, bool) {
	if !d.consume('{') {
		return nil, false
	}
	m := map[string]bool{}
	if d.consume('}') {
		return m, true
	}
	for {
		k, ok := d.key()
		if !ok {
			return nil, false
		}
		if m[k], ok = d.boolean(); !ok {
			return nil, false
		}
		if d.consume(',') {
			continue
		}
		return m, d.consume('}')
	}
}

func (d *jsonScanner) attributes() (map[string]any, bool) {
	if !d.consume('{') {
		return nil, false
	}
	m := map[string]any{}
	if d.consume('}') {
		return m, true
	}
	for {
		k, ok := d.key()
		if !ok {
			return nil, false
		}
		switch c := d.peek(); {
		case c == '"':
			m[k], ok = d.str()
		case c == 't' || c == 'f':
			m[k], ok = d.boolean()
		case c == '-' || (c >= '0' && c <= '9'):
			m[k], ok = d.number()
		default:
			ok = false // null, objects, arrays: encoding/json explains
		}
		if !ok {
			return nil, false
		}
		if d.consume(',') {
			continue
		}
		return m, d.consume('}')
	}
}
