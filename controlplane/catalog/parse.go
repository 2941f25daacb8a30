// Package catalog parses and validates catalogue documents (Offer, Plan,
// Campaign, ContactPolicy, Model) as analysts write them: YAML or JSON, one or many
// documents per request, kubectl style. Validation here is everything that
// does not depend on stored state (fields, ranges, rules that must compile);
// references between documents are checked again by the FSM at commit.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Limits that keep one request from hurting a node.
const (
	MaxDocuments = 5000
	MaxIDLength  = 128
)

// Doc is one validated document in canonical JSON form.
type Doc struct {
	Kind protocol.Kind   `json:"kind"`
	ID   string          `json:"id"`
	JSON json.RawMessage `json:"doc"`
	// Refs are the offers a campaign names (or the plan a tariff offer
	// names), checked against the store at commit.
	Refs []Ref `json:"refs,omitempty"`
}

// Ref names another catalogue object a document depends on.
type Ref struct {
	Kind protocol.Kind `json:"kind"`
	ID   string        `json:"id"`
}

// Parser parses and validates documents. It remembers which rules compiled,
// so re-applying a catalogue (or a thousand offers sharing a few rules) does
// not compile the same rule again. It is safe for concurrent use.
type Parser struct {
	mu     sync.Mutex
	rules  map[string]struct{}
	fields map[reflect.Type]map[string]reflect.Type
}

// maxCachedRules bounds the Parser's memory of good rules.
const maxCachedRules = 10_000

// NewParser returns a Parser with an empty rule cache.
func NewParser() *Parser { return &Parser{rules: map[string]struct{}{}} }

func (p *Parser) checkRule(src string) error {
	if src == "" {
		return nil
	}
	if p.rules != nil {
		p.mu.Lock()
		_, ok := p.rules[src]
		p.mu.Unlock()
		if ok {
			return nil
		}
	}
	if _, err := CompileRule(src); err != nil {
		return err
	}
	if p.rules != nil {
		p.mu.Lock()
		if len(p.rules) >= maxCachedRules {
			clear(p.rules)
		}
		p.rules[src] = struct{}{}
		p.mu.Unlock()
	}
	return nil
}

// Parse reads one or more documents from body without a rule cache; see
// Parser.Parse.
func Parse(body []byte) ([]Doc, error) { return (&Parser{}).Parse(body) }

// Parse reads one or more documents from body, YAML or JSON (a JSON object,
// a JSON array of objects, or a YAML stream separated by ---), and validates
// each. The whole request is rejected on the first bad document.
func (p *Parser) Parse(body []byte) ([]Doc, error) {
	raws, err := split(body)
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, api.Errorf(api.CodeInvalidDocument, "no documents in request")
	}
	if len(raws) > MaxDocuments {
		return nil, api.Errorf(api.CodeInvalidDocument, "%d documents in one request; the limit is %d", len(raws), MaxDocuments)
	}
	docs := make([]Doc, len(raws))
	errs := make([]error, len(raws))
	decodeAll(raws, func(i int) { docs[i], errs[i] = p.decodeOne(raws[i]) })
	seen := make(map[Ref]int, len(raws))
	for i, d := range docs {
		if err := errs[i]; err != nil {
			var ae *api.Error
			if errors.As(err, &ae) {
				return nil, ae.InDocument(i, "")
			}
			return nil, api.Errorf(api.CodeInvalidDocument, "%v", err).InDocument(i, "")
		}
		key := Ref{d.Kind, d.ID}
		if j, dup := seen[key]; dup {
			return nil, api.Errorf(api.CodeDuplicateDocument, "%s %q also appears as document %d", d.Kind, d.ID, j).InDocument(i, "id")
		}
		seen[key] = i
	}
	return docs, nil
}

// decodeAll runs fn for every document, spread over the CPUs when there
// are many: documents are independent, and a bulk apply's parse is on the
// leader's critical path while the followers wait for the entry.
func decodeAll(raws []json.RawMessage, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), len(raws)/64)
	if workers < 2 {
		for i := range raws {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(raws) {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// split turns the body into one JSON object per document.
func split(body []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	switch trimmed[0] {
	case '{':
		var one json.RawMessage
		if err := strictJSON(trimmed, &one); err != nil {
			return yamlOr(trimmed, err)
		}
		return []json.RawMessage{one}, nil
	case '[':
		var many []json.RawMessage
		if err := strictJSON(trimmed, &many); err != nil {
			return yamlOr(trimmed, err)
		}
		return many, nil
	}
	return splitYAML(trimmed)
}

// yamlOr reads a body that looked like JSON but is not (a YAML flow
// mapping, or JSON and YAML files sent together as one stream) as YAML; if
// that fails too, the JSON error is the clearer one.
func yamlOr(body []byte, jsonErr error) ([]json.RawMessage, error) {
	if docs, err := splitYAML(body); err == nil {
		return docs, nil
	}
	return nil, api.Errorf(api.CodeInvalidJSON, "%v", jsonErr)
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	// dec.More reports false before a stray ']' or '}', so look for the
	// end of input instead.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func splitYAML(body []byte) ([]json.RawMessage, error) {
	dec := yaml.NewDecoder(bytes.NewReader(body))
	var out []json.RawMessage
	for i := 0; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidDocument, "YAML: %s", strings.TrimPrefix(err.Error(), "yaml: ")).InDocument(i, "")
		}
		if len(out) >= MaxDocuments {
			return nil, api.Errorf(api.CodeInvalidDocument, "more than %d documents in one request", MaxDocuments)
		}
		v, err := yamlValue(&node, 0)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidDocument, "YAML: %s", strings.TrimPrefix(err.Error(), "yaml: ")).InDocument(i, "")
		}
		if v == nil {
			continue // an empty document between separators
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidDocument, "YAML: %s", strings.TrimPrefix(err.Error(), "yaml: ")).InDocument(i, "")
		}
		out = append(out, b)
	}
}

// yamlValue converts a YAML node to plain JSON-able values. Mapping keys must
// be strings; aliases are refused (a catalogue has no use for them and they
// are how YAML bombs work).
func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("nesting deeper than 32 levels")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "") {
				return nil, fmt.Errorf("line %d: mapping keys must be strings", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			v, err := yamlValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		switch x := v.(type) {
		case string:
			if n.Style == 0 && isJSONNumber(x) {
				// A plain number YAML cannot hold (1e400): a number
				// still, so that the field says it is out of range
				// rather than text.
				return json.Number(x), nil
			}
			return x, nil
		case nil, bool, int, int64, uint64, float64:
			return x, nil
		default:
			// Timestamps and binary stay as the text the analyst wrote.
			return n.Value, nil
		}
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not allowed in catalogue documents", n.Line)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	var n json.Number
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Unmarshal([]byte(s), &n) == nil
}

// decodeOne decodes one document strictly into its kind's type, validates it
// and returns its canonical form.
func (p *Parser) decodeOne(raw json.RawMessage) (Doc, error) {
	var h struct {
		Kind *string `json:"kind"`
		ID   *string `json:"id"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return Doc{}, api.Errorf(api.CodeInvalidField, "kind and id must be strings: %v", err)
		}
		return Doc{}, api.Errorf(api.CodeInvalidDocument, "a document must be an object with kind and id")
	}
	if h.Kind == nil || *h.Kind == "" {
		return Doc{}, &api.Error{Code: api.CodeMissingField, Field: "kind", Message: "every document needs a kind (Offer, Plan, Campaign, ContactPolicy, Model or PropensityTable)"}
	}
	kind := protocol.Kind(*h.Kind)
	var v validator
	switch kind {
	case protocol.KindOffer:
		v = &protocol.Offer{}
	case protocol.KindPlan:
		v = &protocol.Plan{}
	case protocol.KindCampaign:
		v = &protocol.Campaign{}
	case protocol.KindContactPolicy:
		v = &protocol.ContactPolicy{}
	case protocol.KindModel:
		v = &protocol.Model{}
	case protocol.KindPropensities:
		v = &protocol.PropensityTable{}
	default:
		return Doc{}, &api.Error{Code: api.CodeUnknownKind, Field: "kind",
			Message: fmt.Sprintf("unknown kind %q; kinds are Offer, Plan, Campaign, ContactPolicy, Model, PropensityTable", *h.Kind)}
	}
	if h.ID == nil || *h.ID == "" {
		return Doc{}, &api.Error{Code: api.CodeMissingField, Field: "id", Message: "every document needs an id"}
	}
	if err := checkID(*h.ID); err != nil {
		return Doc{}, err
	}
	if err := p.decodeStrict(raw, v); err != nil {
		return Doc{}, err
	}
	refs, err := validate(v, p.checkRule)
	if err != nil {
		return Doc{}, err
	}
	if kind == protocol.KindContactPolicy {
		// Left out, the cap would be 0: no marketing contact at all on
		// the channel. Whoever means that writes it.
		var cap struct {
			MaxContacts *json.RawMessage `json:"maxContacts"`
		}
		if err := json.Unmarshal(raw, &cap); err == nil && cap.MaxContacts == nil {
			return Doc{}, &api.Error{Code: api.CodeMissingField, Field: "maxContacts",
				Message: "a contact policy needs maxContacts, the most contacts per window (0 stops every marketing contact on the channel)"}
		}
	}
	canon, err := canonicalJSON(v)
	if err != nil {
		return Doc{}, fmt.Errorf("encode %s %s: %w", kind, *h.ID, err)
	}
	if kind == protocol.KindPropensities && len(canon) > MaxPropensityBytes {
		return Doc{}, &api.Error{Code: api.CodeBodyTooLarge, Field: "arms",
			Message: fmt.Sprintf("the propensity table is %d bytes; the limit is %d (fewer segments)", len(canon), MaxPropensityBytes)}
	}
	if kind == protocol.KindModel && len(canon) > MaxModelBytes {
		return Doc{}, &api.Error{Code: api.CodeBodyTooLarge, Field: "model",
			Message: fmt.Sprintf("the model document is %d bytes; the limit is %d (fewer or shallower trees)", len(canon), MaxModelBytes)}
	}
	return Doc{Kind: kind, ID: *h.ID, JSON: canon, Refs: refs}, nil
}

// decodeStrict decodes raw into v, refusing unknown fields and wrong types
// with the field's name in the error.
func (p *Parser) decodeStrict(raw json.RawMessage, v any) error {
	if err := p.checkKeys(raw, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	// checkKeys has refused every unknown or miscased field, so plain
	// Unmarshal (faster than a Decoder) is strict enough here.
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return api.TypeError(te)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return &api.Error{Code: api.CodeUnknownField, Field: f, Message: fmt.Sprintf("unknown field %q", f)}
	}
	return api.Errorf(api.CodeInvalidDocument, "%v", err)
}

func checkID(id string) error {
	if id == "" {
		return &api.Error{Code: api.CodeInvalidField, Field: "id", Message: "an id may not be empty"}
	}
	if c := id[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		return &api.Error{Code: api.CodeInvalidField, Field: "id", Message: fmt.Sprintf("id %q must start with a letter or digit", id)}
	}
	if len(id) > MaxIDLength {
		return &api.Error{Code: api.CodeInvalidField, Field: "id", Message: fmt.Sprintf("id longer than %d characters", MaxIDLength)}
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return &api.Error{Code: api.CodeInvalidField, Field: "id",
				Message: fmt.Sprintf("id %q may hold only letters, digits, '-', '_' and '.'", id)}
		}
	}
	return nil
}

// canonicalJSON encodes a document in field order, without escaping <, >
// and & (rules such as "profile.tenureMonths >= 6" stay readable).
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
