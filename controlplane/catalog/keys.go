package catalog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"touchpoint.dev/touchpoint/protocol/api"
)

// checkKeys holds a JSON document to the field names of t exactly: Go's
// decoder would accept "VALUE" for "value" and let a repeated key silently
// win, where an analyst's typo must be an error. Nested objects are checked
// against their own struct types. raw is valid JSON (it was produced or
// checked by encoding/json), so a small scanner suffices: it is several
// times faster than json.Decoder's token API on the apply path.
func (p *Parser) checkKeys(raw []byte, t reflect.Type, prefix string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice {
		return p.checkElems(raw, t.Elem(), prefix)
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil // not an object: the strict decoder reports it
	}
	var seen []string
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] == '}' {
			return nil
		}
		if raw[i] == ',' {
			i++
			continue
		}
		if raw[i] != '"' {
			return nil
		}
		end := skipString(raw, i)
		key := string(raw[i+1 : end-1])
		if strings.IndexByte(key, '\\') >= 0 {
			_ = json.Unmarshal(raw[i:end], &key)
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil
		}
		i = skipSpace(raw, i+1)
		vstart := i
		i = skipValue(raw, i)
		ft, ok := p.fieldsOf(t)[key]
		if !ok && prefix == "" && key == "index" {
			// The object's Raft index, which get -o json prints with the
			// document: a document read back is applied as it was, and the
			// cluster sets the index again.
			if !isJSONNumber(string(raw[vstart:i])) {
				return &api.Error{Code: api.CodeInvalidField, Field: "index", Message: "index is the Raft index the cluster gives the object (get -o json shows it): leave it out, or keep the number"}
			}
			continue
		}
		if !ok {
			return &api.Error{Code: api.CodeUnknownField, Field: prefix + key, Message: fmt.Sprintf("unknown field %q (field names are case-sensitive)", prefix+key)}
		}
		for _, s := range seen {
			if s == key {
				return &api.Error{Code: api.CodeInvalidDocument, Field: prefix + key, Message: fmt.Sprintf("field %q appears twice", prefix+key)}
			}
		}
		seen = append(seen, key)
		if err := p.checkKeys(raw[vstart:i], ft, prefix+key+"."); err != nil {
			return err
		}
	}
}

// checkElems checks every element of a JSON array against elem, when elem
// is a struct (a model's features and trees): "model.features[2].nme".
func (p *Parser) checkElems(raw []byte, elem reflect.Type, prefix string) error {
	for elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	if elem.Kind() != reflect.Struct {
		return nil
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil
	}
	field := strings.TrimSuffix(prefix, ".")
	i++
	for n := 0; ; n++ {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] == ']' {
			return nil
		}
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
		start := i
		i = skipValue(raw, i)
		if i == start {
			return nil
		}
		if err := p.checkKeys(raw[start:i], elem, fmt.Sprintf("%s[%d].", field, n)); err != nil {
			return err
		}
	}
}

// fieldsOf maps a struct type's JSON field names to their types,
// remembering the answer per type.
func (p *Parser) fieldsOf(t reflect.Type) map[string]reflect.Type {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.fields[t]; ok {
		return m
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		m[tag] = f.Type
	}
	if p.fields == nil {
		p.fields = map[reflect.Type]map[string]reflect.Type{}
	}
	p.fields[t] = m
	return m
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
		i++
	}
	return i
}
