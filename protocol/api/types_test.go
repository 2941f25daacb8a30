package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// An object travels as the document's own fields plus "index", and comes
// back with its fields in their order, values byte for byte.
func TestObject_RoundTripKeepsDocumentAsApplied(t *testing.T) {
	doc := `{"kind":"Offer","id":"retain-10","name":"10% off","value":60,"eligibility":"profile.tenureMonths >= 6"}`
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as the API and the CLI write it
	if err := enc.Encode(api.Object{Kind: "Offer", ID: "retain-10", Index: 9, Doc: json.RawMessage(doc)}); err != nil {
		t.Fatal(err)
	}
	b := bytes.TrimSpace(buf.Bytes())
	want := `{"kind":"Offer","id":"retain-10","name":"10% off","value":60,"eligibility":"profile.tenureMonths >= 6","index":9}`
	if string(b) != want {
		t.Fatalf("marshal\n got %s\nwant %s", b, want)
	}
	var o api.Object
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	if string(o.Doc) != doc || o.Index != 9 || o.Kind != "Offer" || o.ID != "retain-10" {
		t.Fatalf("unmarshal %+v %s", o, o.Doc)
	}
	if err := json.Unmarshal([]byte(`[1]`), &o); err == nil {
		t.Fatal("a non-object was accepted")
	}
}

func TestClient_ErrorsCarryCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			t.Errorf("token not sent: %q", r.Header.Get("Authorization"))
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"Offer \"x\" does not exist"}}`))
	}))
	defer srv.Close()
	_, err := api.NewClient(srv.URL, "t", nil).Get(context.Background(), "offers", "x", false)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeNotFound || ae.Status != http.StatusNotFound {
		t.Fatalf("got %v", err)
	}
	if api.CodeOf(err) != api.CodeNotFound || api.CodeNotFound.HTTPStatus() != http.StatusNotFound {
		t.Fatal("code mapping")
	}
}
