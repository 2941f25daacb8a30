package attrtext_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/attrtext"
)

func FuzzNumber(f *testing.F) {
	for _, s := range []string{"12", "-0.5", ".5", "1e3", "+5", "1.50", "0", "-0", "0123", "00.5", "0x10", "1_000", "NaN", "Inf", "1e999", "1e", ".", "-", "1.2.3", " 1", "١", "1234567890123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := attrtext.Number(s)
		if !ok {
			return
		}
		if strings.Trim(s, "+-.0123456789eE") != "" {
			t.Fatalf("%q read as %v: not a decimal spelling", s, v)
		}
		if p, err := strconv.ParseFloat(s, 64); err != nil || p != v || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("%q read as %v, ParseFloat %v %v", s, v, p, err)
		}
	})
}

func TestNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"12": true, "-0.5": true, ".5": true, "1e3": true, "1E+3": true, "+5": true, "0": true, "0.25": true, "5.": true,
		"123456789012345": true, "1234567890123456": false, "13800000001": true,
		"0123": false, "00.5": false, "0x10": false, "1_000": false, "NaN": false, "Inf": false, "1e999": false, "1e400": false,
		"1e": false, ".": false, "": false, "1.2.3": false, " 1": false, "e5": false,
	} {
		if _, ok := attrtext.Number(s); ok != want {
			t.Errorf("Number(%q) ok = %v, want %v", s, ok, want)
		}
	}
}

func TestBool(t *testing.T) {
	for s, want := range map[string]int{"yes": 1, "YES": 1, "True": 1, "no": 0, "No": 0, "FALSE": 0, "y": -1, "1": -1, "": -1, "yess": -1, "nope": -1} {
		b, ok := attrtext.Bool(s)
		got := -1
		if ok {
			got = 0
			if b {
				got = 1
			}
		}
		if got != want {
			t.Errorf("Bool(%q) = %v %v", s, b, ok)
		}
	}
}
