package api

import (
	"encoding/json"
	"errors"
	"net/http"
)

// WriteJSON answers with v as JSON (no HTML escaping: documents are shown
// as written). The control plane's admin API and the agent's API both
// answer through it and WriteError.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError answers with the error body {"error":{"code","message",…}}
// and the status of its code; an error that is not an *Error is internal.
func WriteError(w http.ResponseWriter, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = Errorf(CodeInternal, "%v", err)
	}
	if ae.Code == CodeUnauthorized {
		// RFC 9110 §11.6.1: a 401 names the scheme that would work. Both
		// APIs take a bearer token (the agent's API key also in X-API-Key).
		w.Header().Set("WWW-Authenticate", `Bearer realm="touchpoint"`)
	}
	WriteJSON(w, ae.Code.HTTPStatus(), ErrorBody{Error: ae})
}
