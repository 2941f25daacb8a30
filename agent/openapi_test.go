package agent_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
)

// openAPI is the part of docs/openapi.yaml the test reads.
type openAPI struct {
	Paths      map[string]map[string]operation `yaml:"paths"`
	Components struct {
		Responses map[string]response_ `yaml:"responses"`
		Schemas   map[string]schema    `yaml:"schemas"`
	} `yaml:"components"`
}

type operation struct {
	RequestBody struct {
		Content map[string]struct {
			Schema schema `yaml:"schema"`
		} `yaml:"content"`
	} `yaml:"requestBody"`
	Responses map[string]response_ `yaml:"responses"`
	// Untested gives, by status, why no x-test answers it.
	Untested map[string]string `yaml:"x-untested"`
	Tests    []struct {
		Path   string         `yaml:"path"`
		Body   map[string]any `yaml:"body"`
		Pad    int            `yaml:"pad"` // bytes of a "pad" string member added to Body
		Status int            `yaml:"status"`
		Code   string         `yaml:"code"`  // of the error answered, when given
		Field  string         `yaml:"field"` // of the error answered, when given
	} `yaml:"x-test"`
}

type response_ struct {
	Ref     string `yaml:"$ref"`
	Content map[string]struct {
		Schema schema `yaml:"schema"`
	} `yaml:"content"`
}

type schema struct {
	Ref                  string            `yaml:"$ref"`
	Type                 string            `yaml:"type"`
	Required             []string          `yaml:"required"`
	Properties           map[string]schema `yaml:"properties"`
	AdditionalProperties any               `yaml:"additionalProperties"` // only false is checked
	Items                *schema           `yaml:"items"`
	OneOf                []schema          `yaml:"oneOf"`
	Enum                 []any             `yaml:"enum"`
	Nullable             bool              `yaml:"nullable"`
	Pattern              string            `yaml:"pattern"`
	MinLength            *int              `yaml:"minLength"` // characters, as OpenAPI counts
	MaxLength            *int              `yaml:"maxLength"`
	Minimum              *float64          `yaml:"minimum"`
	Maximum              *float64          `yaml:"maximum"`
}

func (doc *openAPI) resolve(s schema) schema {
	for s.Ref != "" {
		s = doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// check validates v (decoded JSON) against s, reporting the first mismatch.
func (doc *openAPI) check(s schema, v any, path string) error {
	s = doc.resolve(s)
	if v == nil {
		if s.Nullable || s.Type == "" {
			return nil
		}
		return fmt.Errorf("%s: null where %s is required", path, s.Type)
	}
	if len(s.OneOf) > 0 {
		matched := 0
		var errs []string
		for _, alt := range s.OneOf {
			if err := doc.check(alt, v, path); err != nil {
				errs = append(errs, err.Error())
			} else {
				matched++
			}
		}
		if matched != 1 {
			return fmt.Errorf("%s: matches %d of oneOf, want 1: %s", path, matched, strings.Join(errs, "; "))
		}
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", path, v)
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required %q missing", path, r)
			}
		}
		for k, ps := range s.Properties {
			if x, ok := m[k]; ok {
				if err := doc.check(ps, x, path+"."+k); err != nil {
					return err
				}
			}
		}
		if s.AdditionalProperties == false {
			for k := range m {
				if _, ok := s.Properties[k]; !ok {
					return fmt.Errorf("%s: %q is not a documented property", path, k)
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", path, v)
		}
		for i, x := range a {
			if err := doc.check(*s.Items, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want a string", path, v)
		}
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
			return fmt.Errorf("%s: %d characters, outside the documented length", path, n)
		}
		if s.Pattern != "" {
			re, err := regexp.Compile(s.Pattern)
			if err != nil {
				return fmt.Errorf("%s: the documented pattern: %v", path, err)
			}
			if !re.MatchString(str) {
				return fmt.Errorf("%s: %q does not match %s", path, str, s.Pattern)
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v, want an integer", path, v)
		}
		if err := s.checkRange(v.(float64), path); err != nil {
			return err
		}
	case "number":
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%s: %T, want a number", path, v)
		}
		if err := s.checkRange(f, path); err != nil {
			return err
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want a boolean", path, v)
		}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", path, v, s.Enum)
	}
	return nil
}

func (s schema) checkRange(f float64, path string) error {
	if s.Minimum != nil && f < *s.Minimum || s.Maximum != nil && f > *s.Maximum {
		return fmt.Errorf("%s: %v is outside the documented range", path, f)
	}
	return nil
}

// openPaths answer without the API key (docs/openapi.yaml's description).
var openPaths = []string{"/healthz", "/readyz", "/metrics"}

// TestOpenAPI_EveryDocumentedRequestAnswersAsDocumented sends each x-test
// request of docs/openapi.yaml to an agent that requires an API key, with
// the key, and checks the status and the answer's shape against the
// documented schema, and the body of a request it accepts against the
// documented request schema. It sends each operation's first request
// without the key too: 401 must be documented and answered, except on the
// open paths. Every documented status must be answered by an x-test (401:
// by that request), or have its reason in x-untested.
func TestOpenAPI_EveryDocumentedRequestAnswersAsDocumented(t *testing.T) {
	raw, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	// An active churn model: decisions carry its live score and name it.
	fake.Put("Model", "churn-main", complaintsModelDoc("active"))
	fake.PutCustomer(protocol.Profile{ID: "C1", Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0,
		"voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0}, Index: 1})
	fake.PutCustomer(protocol.Profile{ID: "C2", Attributes: map[string]any{"tenureMonths": 3.0}, Index: 1})
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.APIKey = "openapi-key"
	a := start(t, cfg)
	key := []string{"X-API-Key", cfg.APIKey}
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool {
		return do(t, "GET", a.URL()+"/v1/catalog/policies/default", nil, key...).status == 200
	})
	agenttest.WaitFor(t, 10*time.Second, "the churn model", func() bool {
		return do(t, "GET", a.URL()+"/v1/catalog/models/churn-main", nil, key...).status == 200
	})
	// answers checks res, the answer to name, against op's documentation
	// of its status.
	answers := func(name string, op operation, res response) bool {
		r, ok := op.Responses[fmt.Sprint(res.status)]
		if !ok {
			t.Errorf("%s: status %d is not documented", name, res.status)
			return false
		}
		if r.Ref != "" {
			r = doc.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
		}
		var v any
		if err := json.Unmarshal(res.body, &v); err != nil {
			t.Errorf("%s: not JSON: %s", name, res.body)
			return false
		}
		if err := doc.check(r.Content["application/json"].Schema, v, "body"); err != nil {
			t.Errorf("%s: %v: %s", name, err, res.body)
			return false
		}
		return true
	}

	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tested := 0
	for _, p := range paths {
		for method, op := range doc.Paths[p] {
			opName := strings.ToUpper(method) + " " + p
			if len(op.Tests) == 0 {
				t.Errorf("%s has no x-test", opName)
				continue
			}
			answered := map[string]bool{}
			var first []byte
			firstURL := ""
			for i, tc := range op.Tests {
				url := p
				if tc.Path != "" {
					url = tc.Path
				}
				var body []byte
				if tc.Body != nil || tc.Pad > 0 {
					m := map[string]any{}
					for k, v := range tc.Body {
						m[k] = v
					}
					if tc.Pad > 0 {
						m["pad"] = strings.Repeat("x", tc.Pad)
					}
					var err error
					if body, err = json.Marshal(m); err != nil {
						t.Fatalf("%s: x-test body: %v", opName, err)
					}
				}
				if i == 0 {
					first, firstURL = body, url
				}
				name := fmt.Sprintf("%s %s %.300s", strings.ToUpper(method), url, body)
				res := do(t, strings.ToUpper(method), a.URL()+url, body, key...)
				if res.status != tc.Status {
					t.Errorf("%s: status %d, documented %d: %.300s", name, res.status, tc.Status, res.body)
					continue
				}
				answered[fmt.Sprint(res.status)] = true
				if tc.Code != "" || tc.Field != "" {
					var eb struct {
						Error struct{ Code, Field string }
					}
					if err := json.Unmarshal(res.body, &eb); err != nil || eb.Error.Code != tc.Code && tc.Code != "" || eb.Error.Field != tc.Field {
						t.Errorf("%s: error %s on %q, documented %s on %q: %s", name, eb.Error.Code, eb.Error.Field, tc.Code, tc.Field, res.body)
					}
				}
				if res.status < 300 && body != nil {
					// What the agent accepts, its documentation allows.
					var v any
					_ = json.Unmarshal(body, &v)
					if err := doc.check(op.RequestBody.Content["application/json"].Schema, v, "request"); err != nil {
						t.Errorf("%s: accepted, but the documented request schema refuses it: %v", name, err)
					}
				}
				if answers(name, op, res) {
					tested++
				}
			}

			open := slices.Contains(openPaths, p)
			_, has401 := op.Responses["401"]
			switch {
			case open && has401:
				t.Errorf("%s: documents 401, but it answers without a key", opName)
			case !open:
				name := fmt.Sprintf("%s %s without the API key", strings.ToUpper(method), firstURL)
				res := do(t, strings.ToUpper(method), a.URL()+firstURL, first)
				if res.status != 401 {
					t.Errorf("%s: status %d, want 401: %s", name, res.status, res.body)
				} else if answers(name, op, res) {
					answered["401"] = true
				}
			}
			for status := range op.Responses {
				_, why := op.Untested[status]
				switch {
				case answered[status] && why:
					t.Errorf("%s: %s is in x-untested, but an x-test answers it", opName, status)
				case !answered[status] && !why:
					t.Errorf("%s: documented status %s is answered by no x-test (add one, or its reason to x-untested)", opName, status)
				}
			}
			for status := range op.Untested {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s: x-untested %s is not a documented status", opName, status)
				}
			}
		}
	}
	if tested < 15 {
		t.Fatalf("only %d documented requests were checked", tested)
	}
}
