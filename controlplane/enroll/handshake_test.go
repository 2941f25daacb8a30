package enroll_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/enroll"
	"touchpoint.dev/touchpoint/protocol"
)

// handshakeResult is what each side of one TLS 1.3 connection saw.
type handshakeResult struct {
	serverErr, clientErr error
	agentID              string // as the server read it from the client certificate
}

func (r handshakeResult) ok() bool { return r.serverErr == nil && r.clientErr == nil }

// handshake runs one TLS 1.3 connection over net.Pipe, set up the way the
// fleet will use it:
//
//   - the server (a control-plane node) presents serverChain and requires a
//     client certificate that verifies against clientCAs;
//   - the client (an agent on first contact after enrollment, or any time it
//     knows only the CA fingerprint from its join token) verifies the server
//     ONLY through protocol.VerifyPeerFingerprint(pin). InsecureSkipVerify is
//     how crypto/tls lets a caller replace the standard verification: with it
//     set, the VerifyPeerCertificate callback is the whole check.
//
// In TLS 1.3 the client finishes its handshake before the server has judged
// its certificate, so the client also reads one byte the server sends after
// its handshake: a rejected client certificate shows up there as an alert.
func handshake(t *testing.T, serverChain tls.Certificate, clientCAs *x509.CertPool, client *tls.Certificate, pin [32]byte) handshakeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc, cc := net.Pipe()
	srv := tls.Server(sc, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{serverChain},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	})
	cliCfg := &tls.Config{
		MinVersion:            tls.VersionTLS13,
		InsecureSkipVerify:    true, // replaced, not skipped: see VerifyPeerCertificate
		VerifyPeerCertificate: protocol.VerifyPeerFingerprint(pin),
	}
	if client != nil {
		// Present the certificate whatever CAs the server names in its
		// request (crypto/tls would otherwise withhold one it cannot
		// chain), so the server's verification is what is tested.
		cliCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return client, nil }
	}
	cli := tls.Client(cc, cliCfg)

	var res handshakeResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Close the pipe, not the TLS conn: net.Pipe is unbuffered, and a
		// close_notify nobody reads would block for tls.Conn's 5 s timeout.
		defer sc.Close()
		if res.serverErr = srv.HandshakeContext(ctx); res.serverErr != nil {
			return
		}
		if st := srv.ConnectionState(); st.Version != tls.VersionTLS13 {
			t.Errorf("negotiated version %x", st.Version)
		} else if len(st.PeerCertificates) > 0 {
			// The control plane's identity check on every connection.
			id, err := enroll.AgentIDFromCert(st.PeerCertificates[0])
			if err != nil {
				res.serverErr = err
				return
			}
			res.agentID = id
		}
		_, res.serverErr = srv.Write([]byte{1})
	}()
	res.clientErr = cli.HandshakeContext(ctx)
	if res.clientErr == nil {
		var b [1]byte
		_, res.clientErr = io.ReadFull(cli, b[:])
	}
	cc.Close()
	<-done
	return res
}

type fleet struct {
	ca        *enroll.CA
	server    tls.Certificate // leaf + CA
	clientCAs *x509.CertPool
	pin       [32]byte
}

func newFleet(t *testing.T, clusterID string, now time.Time) fleet {
	t.Helper()
	ca := newCA(t, clusterID, now)
	key := newKey(t)
	der, err := ca.IssueServer(rand.Reader, "node-1", key.Public(), []string{"127.0.0.1", "localhost"}, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return fleet{
		ca:        ca,
		server:    tls.Certificate{Certificate: [][]byte{der, ca.CertDER}, PrivateKey: key},
		clientCAs: pool,
		pin:       protocol.FingerprintCert(ca.CertDER),
	}
}

func agentCert(t *testing.T, ca *enroll.CA, id string, now time.Time, ttl time.Duration) *tls.Certificate {
	t.Helper()
	key := newKey(t)
	der, err := ca.IssueAgent(rand.Reader, id, key.Public(), now, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestHandshake_EnrolledAgentConnects(t *testing.T) {
	now := time.Now()
	f := newFleet(t, "c1", now)
	res := handshake(t, f.server, f.clientCAs, agentCert(t, f.ca, "agent-7", now, time.Hour), f.pin)
	if !res.ok() {
		t.Fatalf("server: %v; client: %v", res.serverErr, res.clientErr)
	}
	if res.agentID != "agent-7" {
		t.Fatalf("server saw agent %q", res.agentID)
	}
}

func TestHandshake_Refused(t *testing.T) {
	now := time.Now()
	f := newFleet(t, "c1", now)
	other := newFleet(t, "c2", now)
	agent := agentCert(t, f.ca, "agent-7", now, time.Hour)

	// A node whose leaf the pinned CA did not sign, though it sends the
	// (public) pinned CA certificate along.
	impostorKey := newKey(t)
	impostorDER, err := other.ca.IssueServer(rand.Reader, "node-x", impostorKey.Public(), []string{"localhost"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	impostor := tls.Certificate{Certificate: [][]byte{impostorDER, f.ca.CertDER}, PrivateKey: impostorKey}

	// An enrolled agent posing as the control plane to another agent.
	posing := *agentCert(t, f.ca, "agent-evil", now, time.Hour)
	posing.Certificate = append(posing.Certificate, f.ca.CertDER)

	tests := []struct {
		name       string
		server     tls.Certificate
		client     *tls.Certificate
		pin        [32]byte
		serverSide bool // the server, not the client, refuses
	}{
		{"agent certificate from another CA", f.server, agentCert(t, other.ca, "agent-7", now, time.Hour), f.pin, true},
		{"expired agent certificate", f.server, agentCert(t, f.ca, "agent-7", now.Add(-30*24*time.Hour), time.Hour), f.pin, true},
		{"no client certificate", f.server, nil, f.pin, true},
		{"wrong fingerprint", f.server, agent, other.pin, false},
		{"server leaf from another CA", impostor, agent, f.pin, false},
		{"agent certificate as server", posing, agent, f.pin, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := handshake(t, tt.server, f.clientCAs, tt.client, tt.pin)
			if res.ok() {
				t.Fatal("handshake succeeded")
			}
			if tt.serverSide && res.serverErr == nil {
				t.Fatalf("server accepted; client: %v", res.clientErr)
			}
			if !tt.serverSide && res.clientErr == nil {
				t.Fatalf("client accepted; server: %v", res.serverErr)
			}
			t.Logf("server: %v; client: %v", res.serverErr, res.clientErr)
		})
	}
}
