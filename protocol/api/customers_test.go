package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The customer client methods call the documented paths, escape ids and
// send writes with a request id.
func TestClient_CustomerPathsAndBodies(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		if r.Method != http.MethodGet && r.Header.Get(api.HeaderRequestID) == "" {
			t.Errorf("%s %s without a request id", r.Method, r.URL)
		}
		switch r.Method {
		case http.MethodPost:
			api.WriteJSON(w, 200, api.CustomersResult{Index: 7, Upserted: 1})
		case http.MethodDelete:
			api.WriteJSON(w, 200, api.CustomerEraseResult{Index: 8})
		default:
			if r.URL.Path == "/v1/customers" {
				api.WriteJSON(w, 200, api.CustomerPage{Customers: []protocol.Profile{{ID: "C1"}}})
				return
			}
			api.WriteError(w, api.Errorf(api.CodeNotFound, "customer does not exist"))
		}
	}))
	defer srv.Close()
	c := api.NewClient(srv.URL, "tok", nil)
	ctx := context.Background()
	if r, err := c.UpsertCustomers(ctx, []protocol.Profile{{ID: "C1", Attributes: map[string]any{"n": 1.5}}}); err != nil || r.Index != 7 {
		t.Fatalf("upsert: %+v %v", r, err)
	}
	if _, err := c.Customer(ctx, "a b"); api.CodeOf(err) != api.CodeNotFound {
		t.Fatalf("show: %v", err)
	}
	if p, err := c.Customers(ctx, "", "C0", 10); err != nil || len(p.Customers) != 1 {
		t.Fatalf("list: %+v %v", p, err)
	}
	if r, err := c.EraseCustomer(ctx, "C1"); err != nil || r.Index != 8 {
		t.Fatalf("erase: %+v %v", r, err)
	}
	want := []string{
		`POST /v1/customers [{"id":"C1","attributes":{"n":1.5}}]`,
		`GET /v1/customers/a%20b `,
		`GET /v1/customers?after=C0&limit=10&region= `,
		`DELETE /v1/customers/C1 `,
	}
	if b, _ := json.Marshal(got); string(b) != string(must(json.Marshal(want))) {
		t.Errorf("requests:\n%q\nwant\n%q", got, want)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
