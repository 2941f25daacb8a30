package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func testMux() *Mux {
	m := NewMux()
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	m.HandleFunc("GET /v1/catalog/{kind}", ok)
	m.HandleFunc("POST /v1/catalog", ok)
	m.HandleFunc("GET /v1/catalog/{kind}/{id}", ok)
	m.HandleFunc("DELETE /v1/catalog/{kind}/{id}", ok)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, Errorf(CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return m
}

func TestMux_WrongMethodIs405WithAllow(t *testing.T) {
	m := testMux()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v1/catalog/offers", http.StatusNoContent, ""},
		{"HEAD", "/v1/catalog/offers", http.StatusNoContent, ""},
		{"PUT", "/v1/catalog/offers", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PUT", "/v1/catalog", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/v1/catalog", http.StatusMethodNotAllowed, "POST"},
		{"PATCH", "/v1/catalog/offers/x", http.StatusMethodNotAllowed, "DELETE, GET, HEAD"},
		{"DELETE", "/v1/catalog/offers/x", http.StatusNoContent, ""},
		{"GET", "/v1/nothing", http.StatusNotFound, ""},
		{"PUT", "/v1/nothing", http.StatusNotFound, ""},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.status, tc.allow)
		}
		if tc.status == http.StatusMethodNotAllowed {
			var body ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != CodeMethodNotAllowed {
				t.Errorf("%s %s: body %s, want code %s", tc.method, tc.path, rec.Body, CodeMethodNotAllowed)
			}
		}
	}
}

func TestMux_EncodedBodyIs415(t *testing.T) {
	m := testMux()
	for _, tc := range []struct {
		encodings []string
		status    int
	}{
		{nil, http.StatusNoContent},
		{[]string{"identity"}, http.StatusNoContent},
		{[]string{"Identity"}, http.StatusNoContent},
		{[]string{"gzip"}, http.StatusUnsupportedMediaType},
		{[]string{"identity", "gzip"}, http.StatusUnsupportedMediaType},
		{[]string{"br"}, http.StatusUnsupportedMediaType},
	} {
		r := httptest.NewRequest("POST", "/v1/catalog", strings.NewReader("\x1f\x8b"))
		for _, e := range tc.encodings {
			r.Header.Add("Content-Encoding", e)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != tc.status {
			t.Errorf("Content-Encoding %q: %d, want %d (%s)", tc.encodings, rec.Code, tc.status, rec.Body)
		}
		if tc.status == http.StatusUnsupportedMediaType && !strings.Contains(rec.Body.String(), string(CodeUnsupportedMediaType)) {
			t.Errorf("Content-Encoding %q: body %s", tc.encodings, rec.Body)
		}
	}
}

func TestWriteError_UnauthorizedNamesTheScheme(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, Errorf(CodeUnauthorized, "no token"))
	if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
		t.Fatalf("%d WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = httptest.NewRecorder()
	WriteError(rec, Errorf(CodeForbidden, "viewer"))
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("403 carries WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
	}
}
