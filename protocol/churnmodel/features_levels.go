package churnmodel

import (
	"fmt"
	"strconv"

	"touchpoint.dev/touchpoint/protocol/attrtext"
)

// levelIndex finds a categorical feature's level for an attribute value.
// Levels are the training CSV's text; an attribute may carry the same
// cell typed by `customers import` (docs/CUSTOMERS.md): yes/no/true/false
// as a bool, a decimal number as a float64. text is tried first, with the
// value's own formatting, as it always was; truth and number then find
// the level that spells the same value.
type levelIndex struct {
	text   map[string]int
	truth  [2]int          // the level of false and of true; -1 for none
	number map[float64]int // levels spelling a number, by value; nil for none
}

func newLevelIndex(f *Feature) (levelIndex, error) {
	ix := levelIndex{text: make(map[string]int, len(f.Levels)), truth: [2]int{-1, -1}}
	for k, l := range f.Levels {
		if _, dup := ix.text[l]; dup {
			return ix, fmt.Errorf("feature %q: level %q listed twice", f.Name, l)
		}
		ix.text[l] = k
	}
	for k, l := range f.Levels {
		if b, ok := attrtext.Bool(l); ok {
			t := 0
			if b {
				t = 1
			}
			if ix.truth[t] < 0 {
				ix.truth[t] = k
			}
		} else if v, ok := attrtext.Number(l); ok {
			if ix.number == nil {
				ix.number = map[float64]int{}
			}
			if _, seen := ix.number[v]; !seen {
				ix.number[v] = k
			}
		}
	}
	// A level "false" or "true" (strconv.FormatBool's text) is what a bool
	// always matched: it keeps precedence over other spellings.
	for t, s := range [2]string{"false", "true"} {
		if k, ok := ix.text[s]; ok {
			ix.truth[t] = k
		}
	}
	return ix, nil
}

// level is the index of the level v takes (see Encoder.Put), or -1 when
// it takes none.
func (ix *levelIndex) level(v any) int {
	var buf [32]byte
	var s string
	switch x := v.(type) {
	case nil:
		s = MissingLevel
	case string:
		s = x
		if s == "" {
			s = MissingLevel
		}
	case bool:
		t := 0
		if x {
			t = 1
		}
		return ix.truth[t]
	case float64:
		if k, ok := ix.text[string(strconv.AppendFloat(buf[:0], x, 'f', -1, 64))]; ok {
			return k
		}
		return ix.byNumber(x)
	case int:
		if k, ok := ix.text[string(strconv.AppendInt(buf[:0], int64(x), 10))]; ok {
			return k
		}
		return ix.byNumber(float64(x))
	default:
		s = fmt.Sprint(x)
	}
	if k, ok := ix.text[s]; ok {
		return k
	}
	return -1
}

func (ix *levelIndex) byNumber(x float64) int {
	if k, ok := ix.number[x]; ok {
		return k
	}
	return -1
}
