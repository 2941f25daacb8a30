package agent_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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
	Responses map[string]response_ `yaml:"responses"`
	Tests     []struct {
		Path   string         `yaml:"path"`
		Body   map[string]any `yaml:"body"`
		Status int            `yaml:"status"`
	} `yaml:"x-test"`
}

type response_ struct {
	Ref     string `yaml:"$ref"`
	Content map[string]struct {
		Schema schema `yaml:"schema"`
	} `yaml:"content"`
}

type schema struct {
	Ref        string            `yaml:"$ref"`
	Type       string            `yaml:"type"`
	Required   []string          `yaml:"required"`
	Properties map[string]schema `yaml:"properties"`
	Items      *schema           `yaml:"items"`
	Enum       []any             `yaml:"enum"`
	Nullable   bool              `yaml:"nullable"`
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
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T, want a string", path, v)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v, want an integer", path, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want a number", path, v)
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

// TestOpenAPI_EveryDocumentedRequestAnswersAsDocumented sends each x-test
// request of docs/openapi.yaml to an agent and checks the status and the
// answer's shape against the documented schema.
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
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/policies/default", nil).status == 200 })
	agenttest.WaitFor(t, 10*time.Second, "the churn model", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/models/churn-main", nil).status == 200 })

	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tested := 0
	for _, p := range paths {
		for method, op := range doc.Paths[p] {
			if len(op.Tests) == 0 {
				t.Errorf("%s %s has no x-test", strings.ToUpper(method), p)
			}
			for _, tc := range op.Tests {
				url := p
				if tc.Path != "" {
					url = tc.Path
				}
				var body []byte
				if tc.Body != nil {
					body, _ = json.Marshal(tc.Body)
				}
				res := do(t, strings.ToUpper(method), a.URL()+url, body)
				name := fmt.Sprintf("%s %s %s", strings.ToUpper(method), url, body)
				if res.status != tc.Status {
					t.Errorf("%s: status %d, documented %d: %s", name, res.status, tc.Status, res.body)
					continue
				}
				r, ok := op.Responses[fmt.Sprint(res.status)]
				if !ok {
					t.Errorf("%s: status %d is not documented", name, res.status)
					continue
				}
				if r.Ref != "" {
					r = doc.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
				}
				var v any
				if err := json.Unmarshal(res.body, &v); err != nil {
					t.Errorf("%s: not JSON: %s", name, res.body)
					continue
				}
				if err := doc.check(r.Content["application/json"].Schema, v, "body"); err != nil {
					t.Errorf("%s: %v: %s", name, err, res.body)
				}
				tested++
			}
		}
	}
	if tested < 15 {
		t.Fatalf("only %d documented requests were checked", tested)
	}
}
