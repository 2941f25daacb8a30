package api

// decodeSimpleRequest decodes the decision request kiosks and IVRs send
// almost always — an object of customerId, channel and intent, each a
// plain string, and dryRun true or false, no context — without
// encoding/json's tokenizer, which was a tenth of the agent's CPU under
// load. Anything else (a context, an
// escape or a byte outside printable ASCII in a string, another field, a
// field twice, another type) is not ok, and DecodeDecisionRequest decodes
// it in full with its exact errors. What it accepts, the full decoder
// decodes to the same request (a fuzz test holds them together).
func decodeSimpleRequest(b []byte) (req DecisionRequest, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return req, skipSpace(b, i+1) == len(b)
	}
	var seen uint8
	for {
		var key string
		if key, i, ok = plainString(b, i); !ok {
			return req, false
		}
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return req, false
		}
		var bit uint8
		switch v := skipSpace(b, i+1); key {
		case "customerId":
			bit = 1
			req.CustomerID, i, ok = plainString(b, v)
		case "channel":
			bit = 2
			req.Channel, i, ok = plainString(b, v)
		case "intent":
			bit = 4
			req.Intent, i, ok = plainString(b, v)
		case "dryRun":
			bit = 8
			req.DryRun, i, ok = literalBool(b, v)
		default:
			return req, false
		}
		if !ok {
			return req, false
		}
		if seen&bit != 0 {
			return req, false
		}
		seen |= bit
		i = skipSpace(b, i)
		if i >= len(b) {
			return req, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return req, skipSpace(b, i+1) == len(b)
		default:
			return req, false
		}
	}
}

// literalBool reads true or false at b[i] and returns it and the index
// after it.
func literalBool(b []byte, i int) (v bool, next int, ok bool) {
	switch {
	case len(b)-i >= 4 && string(b[i:i+4]) == "true":
		return true, i + 4, true
	case len(b)-i >= 5 && string(b[i:i+5]) == "false":
		return false, i + 5, true
	}
	return false, i, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] holding only printable ASCII
// and no escape, and returns it and the index after its closing quote.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return "", i, false
		}
	}
	return "", i, false
}
