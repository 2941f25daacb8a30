package adminapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/adminapi"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
)

// TestRoutes_WrongMethodEncodedBodyAndNoToken: the admin API answers a
// wrong method 405 with Allow, an encoded body 415, an unknown path 404,
// and a request without a token 401 naming the scheme.
func TestRoutes_WrongMethodEncodedBodyAndNoToken(t *testing.T) {
	f, err := fsm.Open(fsm.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	h := adminapi.New(adminapi.Config{}, &soloStore{f: f}, f)
	for _, tc := range []struct {
		method, path, encoding string
		status                 int
		code                   api.Code
		allow, auth            string
	}{
		{"PUT", "/v1/catalog", "", 405, api.CodeMethodNotAllowed, "POST", ""},
		{"POST", "/v1/customers/C1", "", 405, api.CodeMethodNotAllowed, "DELETE, GET, HEAD", ""},
		{"POST", "/v1/customers", "gzip", 415, api.CodeUnsupportedMediaType, "", ""},
		{"GET", "/v1/nothing", "", 404, api.CodeNotFound, "", ""},
		{"GET", "/v1/customers/C1", "", 401, api.CodeUnauthorized, "", `Bearer realm="touchpoint"`},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		if tc.encoding != "" {
			r.Header.Set("Content-Encoding", tc.encoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow || rec.Header().Get("WWW-Authenticate") != tc.auth {
			t.Errorf("%s %s: %d Allow %q WWW-Authenticate %q, want %d %q %q (%s)", tc.method, tc.path, rec.Code,
				rec.Header().Get("Allow"), rec.Header().Get("WWW-Authenticate"), tc.status, tc.allow, tc.auth, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), `"code":"`+string(tc.code)+`"`) {
			t.Errorf("%s %s: %s, want code %s", tc.method, tc.path, rec.Body, tc.code)
		}
	}
}
