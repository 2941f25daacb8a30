package adminapi

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A node that does not answer cluster status is shown on a row that
// already names it and its address: the reason says why, once, without
// the request's method and URL. The requests are askPeer's own, with its
// timeout.
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

	s := &Server{cfg: Config{Scheme: "http"}, fwd: &http.Client{}}
	for _, c := range []struct {
		name, addr, want string
	}{
		{"refused", closed, "connection refused"},
		{"silent", silent.Addr().String(), "no answer within " + peerTimeout.String()},
	} {
		_, err := s.askPeer(context.Background(), c.addr, "Bearer x")
		if err == nil {
			t.Fatalf("%s: answered", c.name)
		}
		got := peerError(err)
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if strings.Contains(got, "/v1/cluster/self") || strings.Contains(got, c.addr) {
			t.Errorf("%s: %q repeats the request", c.name, got)
		}
	}
}
