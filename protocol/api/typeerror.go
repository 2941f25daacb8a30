package api

import (
	"encoding/json"
	"reflect"
	"strings"
)

// TypeError is the invalid_field error for a JSON value of the wrong type,
// in words a user of the document reads rather than Go's: "expected a
// number, got string" (not float64), and for a number the field cannot
// hold, why ("a whole number", "a number within ±1.8e308, got 1e400").
func TypeError(te *json.UnmarshalTypeError) *Error {
	return &Error{Code: CodeInvalidField, Field: te.Field, Message: typeMessage(te.Type, te.Value)}
}

func typeMessage(t reflect.Type, got string) string {
	want := kindWords(t)
	if n, ok := strings.CutPrefix(got, "number "); ok { // a number the type cannot hold
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
			return "expected a number within ±1.8e308, got " + n
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return "expected " + want + " in range, got " + n
		}
	}
	if got == "string" {
		got = "text"
	} else if got == "array" {
		got = "a list"
	} else if got == "object" {
		got = "an object"
	}
	return "expected " + want + ", got " + got
}

// kindWords names what a JSON value must be to decode into t.
func kindWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number ≥ 0"
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
