// Package attrtext is how a customer attribute's text is typed: the
// spellings `customers import` reads as booleans and numbers
// (docs/CUSTOMERS.md). The churn scorer uses the same rules to match a
// typed attribute with the text level a model was trained on.
package attrtext

import (
	"math"
	"strconv"
	"strings"
)

// maxSignificantDigits keeps longer digit strings (account numbers, ICCIDs)
// as text: a float64 holds 15 decimal digits exactly.
const maxSignificantDigits = 15

// Bool reads the spellings typed as booleans: yes, no, true and false, in
// any case.
func Bool(v string) (bool, bool) {
	switch len(v) {
	case 2, 3, 4, 5:
	default:
		return false, false
	}
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, true
	case "no", "false":
		return false, true
	}
	return false, false
}

// Number reads the spellings typed as numbers: [+-]digits[.digits]
// [e[+-]digits] (or .digits), with no leading zero before other digits
// ("0123" is a code), at most 15 significant digits (longer digit strings
// are identifiers a float64 would round) and within a float64's range.
func Number(v string) (float64, bool) {
	i := 0
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		i++
	}
	intStart := i
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	intDigits := i - intStart
	if intDigits > 1 && v[intStart] == '0' {
		return 0, false // "0123": an identifier, not a number
	}
	fracDigits := 0
	if i < len(v) && v[i] == '.' {
		i++
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return 0, false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		expStart := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == expStart {
			return 0, false
		}
	}
	if i != len(v) {
		return 0, false
	}
	sig := 0
	leading := true
	for j := intStart; j < len(v) && v[j] != 'e' && v[j] != 'E'; j++ {
		if v[j] == '.' {
			continue
		}
		if leading && v[j] == '0' {
			continue
		}
		leading = false
		sig++
	}
	if sig > maxSignificantDigits {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
