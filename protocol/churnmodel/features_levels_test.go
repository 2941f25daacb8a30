package churnmodel_test

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// levelOf encodes v for one categorical feature and names the level it
// took ("" for none).
func levelOf(t *testing.T, levels []string, v any) string {
	t.Helper()
	e, err := churnmodel.NewEncoder([]churnmodel.Feature{{Name: "plan", Kind: churnmodel.FeatureCategorical, Levels: levels}})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, e.Width())
	for k := range dst {
		dst[k] = -1 // Put must overwrite every input
	}
	e.Put(dst, 0, v)
	got := ""
	for k, x := range dst {
		switch x {
		case 1:
			if got != "" {
				t.Fatalf("%v took levels %q and %q", v, got, levels[k])
			}
			got = levels[k]
		case 0:
		default:
			t.Fatalf("%v encoded input %d as %v", v, k, x)
		}
	}
	return got
}

func TestPut_CategoricalLevelForEachAttributeType(t *testing.T) {
	for _, tc := range []struct {
		name   string
		levels []string
		v      any
		want   string
	}{
		// An imported bool meets the training CSV's yes/no text.
		{"true is Yes", []string{"No", "Yes"}, true, "Yes"},
		{"false is No", []string{"No", "Yes"}, false, "No"},
		{"any case", []string{"no", "yes"}, true, "yes"},
		{"TRUE/FALSE", []string{"FALSE", "TRUE"}, false, "FALSE"},
		{"Y/N are not import's booleans", []string{"N", "Y"}, true, ""},
		{"0/1 are numbers to import, not booleans", []string{"0", "1", "x"}, true, ""},
		{"no level for the truth value", []string{"No", "maybe"}, true, ""},
		{"the level true keeps precedence", []string{"Yes", "true"}, true, "true"},
		{"the level false keeps precedence", []string{"No", "false"}, false, "false"},
		{"else the first spelling", []string{"NO", "No", "no"}, false, "NO"},
		// Text is exact, as training read it.
		{"text", []string{"No", "Yes"}, "No", "No"},
		{"text is exact", []string{"No", "Yes"}, "no", ""},
		{"text false is not No", []string{"No", "Yes"}, "false", ""},
		{"text false", []string{"false", "true"}, "false", "false"},
		{"missing", []string{churnmodel.MissingLevel, "a"}, nil, churnmodel.MissingLevel},
		{"blank is missing", []string{churnmodel.MissingLevel, "a"}, "", churnmodel.MissingLevel},
		{"unseen", []string{"a", "b"}, "c", ""},
		// A number meets its strconv text, else a decimal spelling of it.
		{"number", []string{"408", "415", "N/A"}, 408.0, "408"},
		{"int", []string{"408", "415", "N/A"}, 415, "415"},
		{"fraction", []string{"1.5", "N/A"}, 1.5, "1.5"},
		{"trailing zero", []string{"1.50", "N/A"}, 1.5, "1.50"},
		{"int against a trailing zero", []string{"2.0", "N/A"}, 2, "2.0"},
		{"exponent", []string{"1e3", "N/A"}, 1000.0, "1e3"},
		{"plus sign", []string{"+5", "N/A"}, 5.0, "+5"},
		{"leading dot", []string{".5", "N/A"}, 0.5, ".5"},
		{"strconv text keeps precedence", []string{"1.5", "1.50"}, 1.5, "1.5"},
		{"else the first decimal spelling", []string{"1.50", "1.500"}, 1.5, "1.50"},
		{"a code is not a number", []string{"0123", "N/A"}, 123.0, ""},
		{"the code's text", []string{"0123", "N/A"}, "0123", "0123"},
		{"hex is not a decimal", []string{"0x10", "N/A"}, 16.0, ""},
		{"another number", []string{"1.50", "N/A"}, 1.25, ""},
		{"text is not a number", []string{"1.50", "N/A"}, "1.5", ""},
		{"NaN", []string{"NaN", "x"}, "NaN", "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := levelOf(t, tc.levels, tc.v); got != tc.want {
				t.Errorf("levels %q, %T %v: level %q, want %q", tc.levels, tc.v, tc.v, got, tc.want)
			}
		})
	}
}

// The agent scores every decision with these: a bool or a number meeting
// a categorical feature must not allocate.
func TestPut_CategoricalBoolAndNumberDoNotAllocate(t *testing.T) {
	e, err := churnmodel.NewEncoder([]churnmodel.Feature{
		{Name: "plan", Kind: churnmodel.FeatureCategorical, Levels: []string{"No", "Yes"}},
		{Name: "code", Kind: churnmodel.FeatureCategorical, Levels: []string{"1.50", "408", "N/A"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, e.Width())
	var yes, code, exact any = true, 1.5, 408.0
	if n := testing.AllocsPerRun(100, func() {
		e.Put(dst, 0, yes)
		e.Put(dst, 1, code)
		e.Put(dst, 1, exact)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
