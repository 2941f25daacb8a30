package enroll_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/enroll"
)

// verifyAgent checks der against ca as the control plane's TLS stack would
// for a client certificate, and returns it parsed.
func verifyAgent(t *testing.T, ca *enroll.CA, der []byte, at time.Time) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("agent certificate does not verify: %v", err)
	}
	return c
}

func TestIssueAgent_Fields(t *testing.T) {
	ca := newCA(t, "c1", t0)
	key := newKey(t)
	der, err := ca.IssueAgent(&counting{}, "store-042.till_3", key.Public(), t0, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := verifyAgent(t, ca, der, t0)
	if c.Subject.CommonName != "store-042.till_3" {
		t.Errorf("CN = %q", c.Subject.CommonName)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "touchpoint://agent/store-042.till_3" {
		t.Errorf("URIs = %v", c.URIs)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
	}
	if c.IsCA || len(c.DNSNames) != 0 || len(c.IPAddresses) != 0 {
		t.Errorf("IsCA %v, DNS %v, IP %v", c.IsCA, c.DNSNames, c.IPAddresses)
	}
	if got := c.SerialNumber.Text(16); got != "102030405060708090a0b0c0d0e0f10" {
		t.Errorf("serial = %s, want the first 16 bytes of rand", got)
	}
	if !c.NotBefore.Equal(t0.Add(-5*time.Minute)) || !c.NotAfter.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("validity %v – %v", c.NotBefore, c.NotAfter)
	}
	if !key.PublicKey.Equal(c.PublicKey) {
		t.Error("certificate does not carry the agent's key")
	}
	id, err := enroll.AgentIDFromCert(c)
	if err != nil || id != "store-042.till_3" {
		t.Fatalf("AgentIDFromCert = %q, %v", id, err)
	}
}

func TestIssueAgent_SerialsDiffer(t *testing.T) {
	ca := newCA(t, "c1", t0)
	pub := newKey(t).Public()
	seen := map[string]bool{}
	for range 20 {
		der, err := ca.IssueAgent(rand.Reader, "a1", pub, t0, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		s := c.SerialNumber.String()
		if seen[s] {
			t.Fatalf("serial %s repeated", s)
		}
		seen[s] = true
	}
}

func TestIssueAgent_NeverOutlivesTheCA(t *testing.T) {
	ca := newCA(t, "c1", t0)
	der, err := ca.IssueAgent(rand.Reader, "a1", newKey(t).Public(), t0, 20*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	if !c.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Fatalf("NotAfter %v, CA NotAfter %v", c.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIssueAgent_Refuses(t *testing.T) {
	ca := newCA(t, "c1", t0)
	pub := newKey(t).Public()
	for _, id := range []string{
		"", ".", "..", "a/b", "../etc", "a b", "a\nb", "agent?x=1", "agent#f", "a%2fb", "a:1", "ágent",
		strings.Repeat("a", 129),
	} {
		t.Run("id "+id, func(t *testing.T) {
			if _, err := ca.IssueAgent(rand.Reader, id, pub, t0, time.Hour); err == nil {
				t.Fatalf("agent id %q accepted", id)
			}
		})
	}
	if _, err := ca.IssueAgent(rand.Reader, strings.Repeat("a", 128), pub, t0, time.Hour); err != nil {
		t.Errorf("128-character id refused: %v", err)
	}
	if _, err := ca.IssueAgent(rand.Reader, "a1", pub, t0, 0); err == nil {
		t.Error("zero ttl accepted")
	}
	if _, err := ca.IssueAgent(rand.Reader, "a1", pub, t0, -time.Hour); err == nil {
		t.Error("negative ttl accepted")
	}
	if _, err := ca.IssueAgent(rand.Reader, "a1", nil, t0, time.Hour); err == nil {
		t.Error("nil public key accepted")
	}
	if _, err := ca.IssueAgent(rand.Reader, "a1", "not a key", t0, time.Hour); err == nil {
		t.Error("unsupported public key accepted")
	}
}

func TestIssueServer_Fields(t *testing.T) {
	ca := newCA(t, "c1", t0)
	der, err := ca.IssueServer(rand.Reader, "node-1", newKey(t).Public(), []string{"cp1.example.internal", "127.0.0.1", "::1", "localhost"}, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "node-1" {
		t.Errorf("CN = %q", c.Subject.CommonName)
	}
	if !slices.Equal(c.DNSNames, []string{"cp1.example.internal", "localhost"}) {
		t.Errorf("DNSNames = %v", c.DNSNames)
	}
	if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !c.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IPAddresses = %v", c.IPAddresses)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: t0, DNSName: "cp1.example.internal"}); err != nil {
		t.Errorf("does not verify as cp1.example.internal: %v", err)
	}
	if id, err := enroll.AgentIDFromCert(c); err == nil {
		t.Errorf("a server certificate names agent %q", id)
	}
}

func TestIssueServer_Refuses(t *testing.T) {
	ca := newCA(t, "c1", t0)
	pub := newKey(t).Public()
	tests := []struct {
		name   string
		nodeID string
		hosts  []string
	}{
		{"no hosts", "n1", nil},
		{"empty host", "n1", []string{""}},
		{"wildcard", "n1", []string{"*.example.com"}},
		{"url", "n1", []string{"https://cp1"}},
		{"host and port", "n1", []string{"cp1:7000"}},
		{"ip zone", "n1", []string{"fe80::1%eth0"}},
		{"trailing dot", "n1", []string{"cp1.example."}},
		{"leading hyphen", "n1", []string{"-cp1"}},
		{"bad node id", "n 1", []string{"cp1"}},
		{"empty node id", "", []string{"cp1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ca.IssueServer(rand.Reader, tt.nodeID, pub, tt.hosts, t0, time.Hour); err == nil {
				t.Fatalf("node %q hosts %q accepted", tt.nodeID, tt.hosts)
			}
		})
	}
}

func TestAgentIDFromCert_Refuses(t *testing.T) {
	ca := newCA(t, "c1", t0)
	pub := newKey(t).Public()
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name string
		uris []*url.URL
	}{
		{"no URI", nil},
		{"other scheme", []*url.URL{mustURL("spiffe://agent/a1")}},
		{"two agents", []*url.URL{mustURL("touchpoint://agent/a1"), mustURL("touchpoint://agent/a2")}},
		{"query", []*url.URL{mustURL("touchpoint://agent/a1?admin=1")}},
		{"user info", []*url.URL{mustURL("touchpoint://root@agent/a1")}},
		{"nested path", []*url.URL{mustURL("touchpoint://agent/a1/b")}},
		{"empty id", []*url.URL{mustURL("touchpoint://agent/")}},
		{"escaped slash", []*url.URL{mustURL("touchpoint://agent/a%2Fb")}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(int64(i + 1)),
				Subject:      pkix.Name{CommonName: "a1"},
				NotBefore:    t0, NotAfter: t0.Add(time.Hour),
				URIs:        tt.uris,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if id, err := enroll.AgentIDFromCert(c); err == nil {
				t.Fatalf("accepted as agent %q", id)
			}
		})
	}
	if _, err := enroll.AgentIDFromCert(nil); err == nil {
		t.Error("nil certificate accepted")
	}
}
