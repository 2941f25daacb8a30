package protocol_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// counting is a deterministic "random" source: 0, 1, 2, …
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func fingerprint(b byte) [32]byte {
	var fp [32]byte
	for i := range fp {
		fp[i] = b
	}
	return fp
}

func TestJoinToken_NewDrawsIDThenSecret(t *testing.T) {
	tok, err := protocol.NewJoinToken(&counting{}, fingerprint(0xee))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID != "0001020304050607" {
		t.Errorf("ID = %q", tok.ID)
	}
	if len(tok.Secret) != 32 || tok.Secret[0] != 8 || tok.Secret[31] != 39 {
		t.Errorf("Secret = %x", tok.Secret)
	}
	if tok.CAFingerprint != fingerprint(0xee) {
		t.Errorf("CAFingerprint = %x", tok.CAFingerprint)
	}
}

func TestJoinToken_NewFailsOnShortRandom(t *testing.T) {
	_, err := protocol.NewJoinToken(bytes.NewReader(make([]byte, 39)), fingerprint(1))
	if err == nil {
		t.Fatal("a 39-byte random source produced a token")
	}
}

func TestJoinToken_StringRoundTrips(t *testing.T) {
	tok, err := protocol.NewJoinToken(rand.Reader, fingerprint(7))
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "tpj1.") || len(s) != 101 {
		t.Fatalf("String() = %q (len %d)", s, len(s))
	}
	got, err := protocol.ParseJoinToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tok.ID || !bytes.Equal(got.Secret, tok.Secret) || got.CAFingerprint != tok.CAFingerprint {
		t.Fatalf("round trip: got %+v, want %+v", got, tok)
	}
	if got.String() != s {
		t.Fatalf("re-format: %q != %q", got.String(), s)
	}
}

func TestJoinToken_KnownEncoding(t *testing.T) {
	tok, err := protocol.NewJoinToken(&counting{}, fingerprint(0xff))
	if err != nil {
		t.Fatal(err)
	}
	// id 00..07, secret 08..27 (hex), fingerprint ff*32.
	const want = "tpj1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJ___________________________________________"
	if got := tok.String(); got != want {
		t.Fatalf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestJoinToken_StringOfMalformedTokenDoesNotParse(t *testing.T) {
	for name, tok := range map[string]protocol.JoinToken{
		"zero":         {},
		"short secret": {ID: "0001020304050607", Secret: []byte{1}},
		"bad id":       {ID: "xyz", Secret: make([]byte, 32)},
		"long id":      {ID: "000102030405060708", Secret: make([]byte, 32)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := protocol.ParseJoinToken(tok.String()); err == nil {
				t.Fatalf("%q parsed", tok.String())
			}
		})
	}
}

func TestParseJoinToken_Refuses(t *testing.T) {
	good, err := protocol.NewJoinToken(&counting{}, fingerprint(3))
	if err != nil {
		t.Fatal(err)
	}
	s := good.String()
	body := strings.TrimPrefix(s, "tpj1.")
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "not a join token"},
		{"bearer token", "tp_" + strings.Repeat("ab", 32), "not a join token"},
		{"no prefix", body, "not a join token"},
		{"future version", "tpj2." + body, "unknown version \"tpj2\""},
		{"upper-case prefix", "TPJ1." + body, "not a join token"},
		{"prefix only", "tpj1.", "wrong length"},
		{"one short", s[:len(s)-1], "wrong length"},
		{"one long", s + "A", "wrong length"},
		{"trailing newline", s + "\n", "wrong length"},
		{"leading space", " " + s, "not a join token"},
		{"padding", s[:len(s)-1] + "=", "invalid character"},
		{"std alphabet plus", s[:10] + "+" + s[11:], "invalid character at position 10"},
		{"std alphabet slash", s[:10] + "/" + s[11:], "invalid character"},
		{"embedded newline", s[:50] + "\n" + s[51:], "invalid character"},
		{"non-ascii", s[:20] + "\xc3" + s[21:], "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := protocol.ParseJoinToken(tt.in)
			if err == nil {
				t.Fatalf("parsed %q as %+v", tt.in, tok)
			}
			if !strings.HasPrefix(err.Error(), "join token: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), body[10:40]) {
				t.Fatalf("error %q quotes the token", err)
			}
		})
	}
}

func TestJoinToken_SecretHash(t *testing.T) {
	tok := protocol.JoinToken{ID: "0001020304050607", Secret: []byte("0123456789abcdef0123456789abcdef")}
	sum := sha256.Sum256(tok.Secret)
	want := ""
	for _, b := range sum {
		want += string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15])
	}
	if got := tok.SecretHash(); got != want {
		t.Fatalf("SecretHash = %s, want %s", got, want)
	}
	other := tok
	other.Secret = []byte("0123456789abcdef0123456789abcdeX")
	if other.SecretHash() == tok.SecretHash() {
		t.Fatal("different secrets hash alike")
	}
}

func TestJoinToken_LogShowsOnlyID(t *testing.T) {
	tok, err := protocol.NewJoinToken(rand.Reader, fingerprint(9))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("minted", "token", tok)
	out := buf.String()
	if !strings.Contains(out, "token.id="+tok.ID) {
		t.Fatalf("log %q lacks the token id", out)
	}
	if strings.Contains(out, strings.TrimPrefix(tok.String(), "tpj1.")[16:60]) {
		t.Fatalf("log %q leaks the secret", out)
	}
}

// testCert is a certificate and its key, made here without the control
// plane's enroll package (protocol must not depend on it).
type testCert struct {
	der  []byte
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue signs tmpl with parent (self-signed when parent is nil).
func issue(t *testing.T, tmpl *x509.Certificate, parent *testCert) testCert {
	t.Helper()
	key := newKey(t)
	signer, parentCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{der: der, cert: c, key: key}
}

func template(cn string, now time.Time, ttl time.Duration, eku ...x509.ExtKeyUsage) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
	}
}

func caTemplate(cn string, now time.Time) *x509.Certificate {
	tmpl := template(cn, now, 24*time.Hour)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	return tmpl
}

func TestVerifyPeerFingerprint(t *testing.T) {
	now := time.Now()
	ca := issue(t, caTemplate("ca", now), nil)
	other := issue(t, caTemplate("other ca", now), nil)
	server := issue(t, template("node-1", now, time.Hour, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth), &ca)
	agent := issue(t, template("agent-1", now, time.Hour, x509.ExtKeyUsageClientAuth), &ca)
	expired := issue(t, template("node-old", now.Add(-48*time.Hour), time.Hour, x509.ExtKeyUsageServerAuth), &ca)
	otherServer := issue(t, template("node-x", now, time.Hour, x509.ExtKeyUsageServerAuth), &other)
	selfSigned := issue(t, template("imposter", now, time.Hour, x509.ExtKeyUsageServerAuth), nil)
	pinnedLeaf := issue(t, template("pinned", now, time.Hour, x509.ExtKeyUsageServerAuth), nil)

	caFP := protocol.FingerprintCert(ca.der)
	tests := []struct {
		name  string
		fp    [32]byte
		chain [][]byte
		ok    bool
	}{
		{"leaf and CA", caFP, [][]byte{server.der, ca.der}, true},
		{"CA-signed leaf, CA not sent", caFP, [][]byte{server.der}, false},
		{"wrong fingerprint", protocol.FingerprintCert(other.der), [][]byte{server.der, ca.der}, false},
		{"leaf from another CA sent with ours", caFP, [][]byte{otherServer.der, ca.der}, false},
		{"self-signed leaf sent with the public CA cert", caFP, [][]byte{selfSigned.der, ca.der}, false},
		{"agent certificate posing as a server", caFP, [][]byte{agent.der, ca.der}, false},
		{"expired leaf", caFP, [][]byte{expired.der, ca.der}, false},
		{"pinned self-signed server certificate", protocol.FingerprintCert(pinnedLeaf.der), [][]byte{pinnedLeaf.der}, true},
		{"nothing presented", caFP, nil, false},
		{"garbage", caFP, [][]byte{[]byte("not DER"), ca.der}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := protocol.VerifyPeerFingerprint(tt.fp)(tt.chain, nil)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestFingerprintCert_IsSHA256OfDER(t *testing.T) {
	der := []byte("any bytes")
	if protocol.FingerprintCert(der) != sha256.Sum256(der) {
		t.Fatal("fingerprint is not SHA-256 of the DER")
	}
}

var fuzzJoinSeeds = []string{
	"",
	"tpj1.",
	"tpj2.AAAA",
	"tpj1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJ___________________________________________",
	"tpj1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJ__________________________________________=",
	"tpj1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJ__________________________________________\n",
	"tpj1." + strings.Repeat("A", 96),
	"tpj1." + strings.Repeat("+", 96),
	"tpj1.\x00",
	"tpj",
	"tpj.",
}

func FuzzParseJoinToken(f *testing.F) {
	for _, s := range fuzzJoinSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := protocol.ParseJoinToken(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "join token: ") {
				t.Fatalf("error %q lacks the join token: prefix", err)
			}
			var zero protocol.JoinToken
			if tok.ID != zero.ID || tok.Secret != nil || tok.CAFingerprint != zero.CAFingerprint {
				t.Fatalf("token returned with an error: %+v", tok)
			}
			return
		}
		if len(tok.ID) != 16 || len(tok.Secret) != 32 {
			t.Fatalf("parsed token has ID %q and a %d-byte secret", tok.ID, len(tok.Secret))
		}
		if got := tok.String(); got != s {
			t.Fatalf("re-format:\n got %q\nwant %q", got, s)
		}
		again, err := protocol.ParseJoinToken(tok.String())
		if err != nil || again.ID != tok.ID || !bytes.Equal(again.Secret, tok.Secret) || again.CAFingerprint != tok.CAFingerprint {
			t.Fatalf("second parse: %+v, %v", again, err)
		}
	})
}
