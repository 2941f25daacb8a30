package adminapi

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A node that does not answer cluster status is shown on a row that
// already names it and its address: the reason says why, once, without
// the request's method and URL.
func TestClusterStatus_PeerErrorSaysWhyWithoutTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accepts and never answers
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	ask := func(addr string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/cluster/self", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s answered", addr)
		}
		return err
	}
	for _, c := range []struct {
		name, addr, want string
	}{
		{"refused", closed, "connection refused"},
		{"silent", silent.Addr().String(), "no answer within " + peerTimeout.String()},
	} {
		got := peerError(ask(c.addr, 200*time.Millisecond))
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if strings.Contains(got, "/v1/cluster/self") || strings.Contains(got, c.addr) {
			t.Errorf("%s: %q repeats the request", c.name, got)
		}
	}
}
