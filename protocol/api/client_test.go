package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A client given several members sends a request on to the next when one
// does not answer, stays with the one that did, and carries a write's
// request id to it unchanged.
func TestClient_FailsOverToTheNextMember(t *testing.T) {
	var hits atomic.Int32
	var rid atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rid.Store(r.Header.Get(api.HeaderRequestID))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"index":7}`))
	}))
	defer srv.Close()
	dead := closedAddr(t)
	c := api.NewClient(dead+", "+srv.URL, "tok", nil)
	var out struct{ Index uint64 }
	if err := c.Do(context.Background(), http.MethodPost, "/v1/x", "application/json", []byte(`{}`), &out); err != nil {
		t.Fatal(err)
	}
	if out.Index != 7 || hits.Load() != 1 || rid.Load().(string) == "" {
		t.Fatalf("answer %+v after %d hits, request id %q", out, hits.Load(), rid.Load())
	}
	// The next request goes straight to the member that answered.
	if err := c.Do(context.Background(), http.MethodGet, "/v1/x", "", nil, &out); err != nil || hits.Load() != 2 {
		t.Fatalf("second request: %v, %d hits", err, hits.Load())
	}
}

// With no member answering, the error is a RequestError naming each.
func TestClient_NoMemberAnswers(t *testing.T) {
	a, b := closedAddr(t), closedAddr(t)
	err := api.NewClient(a+","+b, "", nil).Do(context.Background(), http.MethodGet, "/v1/cluster/status", "", nil, nil)
	var re *api.RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "http://"+a+": ") || !strings.Contains(err.Error(), "http://"+b+": ") {
		t.Fatalf("no member answering: %v", err)
	}
	// One member keeps the single-member message.
	err = api.NewClient(a, "", nil).Do(context.Background(), http.MethodGet, "/v1/cluster/status", "", nil, nil)
	if !errors.As(err, &re) || err.Error() != "GET http://"+a+"/v1/cluster/status: "+api.Cause(re.Err).Error() {
		t.Fatalf("one member: %v", err)
	}
}

// An address that is no URL fails every request with an AddrError, before
// anything is sent.
func TestClient_BadAddressIsAnAddrError(t *testing.T) {
	for _, addr := range []string{"", " , ", "ftp://x:1", "http://[::1", "http://127.0.0.1:80x"} {
		err := api.NewClient(addr, "", nil).Do(context.Background(), http.MethodGet, "/v1/x", "", nil, nil)
		var ae *api.AddrError
		if !errors.As(err, &ae) {
			t.Errorf("NewClient(%q): %v, want an AddrError", addr, err)
		}
	}
}

// Plain HTTP to a TLS port gets net/http's plain-text 400: the client says
// to use https:// instead of passing it on as an internal error.
func TestClient_HTTPToAnHTTPSPortSaysUseHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	err := api.NewClient(strings.Replace(srv.URL, "https://", "http://", 1), "", nil).Do(context.Background(), http.MethodGet, "/v1/x", "", nil, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeBadRequest || !strings.Contains(ae.Message, "https://") {
		t.Fatalf("HTTP to a TLS port: %v", err)
	}
}
