package enroll_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/enroll"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// counting is a deterministic "random" source: 1, 2, 3, …
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

func newCA(t *testing.T, clusterID string, now time.Time) *enroll.CA {
	t.Helper()
	ca, err := enroll.NewCA(rand.Reader, clusterID, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewCA_IsASelfSignedP256CA(t *testing.T) {
	ca := newCA(t, "tp-0123456789abcdef", t0)
	c := ca.Cert
	if c.Subject.CommonName != "touchpoint cluster CA tp-0123456789abcdef" {
		t.Errorf("CN = %q", c.Subject.CommonName)
	}
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.MaxPathLen != 0 {
		t.Errorf("IsCA %v, basic constraints %v, max path len %d (zero %v)", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v", c.KeyUsage)
	}
	if !c.NotBefore.Equal(t0.Add(-time.Hour)) || !c.NotAfter.Equal(t0.Add(-time.Hour).AddDate(10, 0, 0)) {
		t.Errorf("validity %v – %v", c.NotBefore, c.NotAfter)
	}
	if ca.Key.Curve != elliptic.P256() || !ca.Key.PublicKey.Equal(c.PublicKey) {
		t.Error("key is not the certificate's P-256 key")
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !bytes.Equal(c.Raw, ca.CertDER) {
		t.Error("Cert and CertDER differ")
	}
}

func TestNewCA_SerialComesFromRand(t *testing.T) {
	ca, err := enroll.NewCA(&counting{}, "c1", t0)
	if err != nil {
		t.Fatal(err)
	}
	// Key generation ignores the reader since Go 1.26, so the serial takes
	// the first 16 bytes.
	if got := ca.Cert.SerialNumber.Text(16); got != "102030405060708090a0b0c0d0e0f10" {
		t.Fatalf("serial = %s", got)
	}
}

func TestNewCA_RefusesBadClusterIDs(t *testing.T) {
	for _, id := range []string{"", "a b", "x/y", "..", strings.Repeat("c", 129), "ünï"} {
		if _, err := enroll.NewCA(rand.Reader, id, t0); err == nil {
			t.Errorf("cluster id %q accepted", id)
		}
	}
}

func TestCA_PEMRoundTrips(t *testing.T) {
	ca := newCA(t, "c1", t0)
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	got, err := enroll.ParseCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.CertDER, ca.CertDER) || !got.Cert.Equal(ca.Cert) || !got.Key.Equal(ca.Key) {
		t.Fatal("PEM round trip changed the CA")
	}
	// The parsed CA still issues certificates that chain to the original.
	der, err := got.IssueAgent(rand.Reader, "agent-1", newKey(t).Public(), t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verifyAgent(t, ca, der, t0)
}

func TestParseCA_Refuses(t *testing.T) {
	ca := newCA(t, "c1", t0)
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	_, otherKeyPEM, err := newCA(t, "c2", t0).MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := ca.IssueAgent(rand.Reader, "a1", newKey(t).Public(), t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	tests := []struct {
		name, wantErr string
		cert, key     []byte
	}{
		{"swapped", "PEM block is", keyPEM, certPEM},
		{"key of another CA", "does not match", certPEM, otherKeyPEM},
		{"leaf certificate", "not a CA", leafPEM, keyPEM},
		{"empty certificate", "no PEM block", nil, keyPEM},
		{"empty key", "no PEM block", certPEM, nil},
		{"two certificates", "trailing data", append(append([]byte{}, certPEM...), certPEM...), keyPEM},
		{"garbage DER", "parse CA certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), keyPEM},
		{"garbage key", "parse CA key", certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := enroll.ParseCA(tt.cert, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
