package protocol

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// A join token is what `touchpoint fleet token` prints and an agent presents
// once to enroll. Its text form is
//
//	"tpj1." + base64url-no-padding( id[8] || secret[32] || caFingerprint[32] )
//
// 5 + 96 = 101 characters, with no characters that need quoting in a shell,
// a URL or a YAML file. The version prefix lets a later format be told apart
// (and refused clearly by agents that do not know it).
//
// The ID is public (the control plane looks the token up by it and writes it
// to the audit log); the secret is stored by the control plane only as its
// SHA-256 (SecretHash); the CA fingerprint lets the agent authenticate the
// control plane on first contact, before it holds any certificate.
const (
	joinTokenPrefix    = "tpj1."
	joinTokenIDLen     = 8
	joinTokenSecretLen = 32
	joinTokenRawLen    = joinTokenIDLen + joinTokenSecretLen + sha256.Size // 72
	joinTokenTextLen   = joinTokenRawLen / 3 * 4                           // 96: 72 is a multiple of 3, so no padding bits
)

// JoinToken is a short-lived enrollment credential. Its String form carries
// the secret: print it to the operator once, never log it. It implements
// slog.LogValuer so that a token passed to a logger shows only its ID.
type JoinToken struct {
	// ID is 8 random bytes in lowercase hex: public, the lookup key.
	ID string
	// Secret is 32 random bytes.
	Secret []byte
	// CAFingerprint is the SHA-256 of the cluster CA certificate's DER.
	CAFingerprint [32]byte
}

// NewJoinToken draws a fresh ID and secret from rand (crypto/rand.Reader in
// production) for a cluster whose CA has the given fingerprint.
func NewJoinToken(rand io.Reader, caFingerprint [32]byte) (JoinToken, error) {
	var b [joinTokenIDLen + joinTokenSecretLen]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return JoinToken{}, fmt.Errorf("join token: read random: %w", err)
	}
	return JoinToken{
		ID:            hex.EncodeToString(b[:joinTokenIDLen]),
		Secret:        append([]byte(nil), b[joinTokenIDLen:]...),
		CAFingerprint: caFingerprint,
	}, nil
}

// String returns the copy-pastable token, secret included. A JoinToken that
// was not made by NewJoinToken or ParseJoinToken and has a malformed ID or
// secret formats as "tpj1.invalid", which ParseJoinToken refuses.
func (t JoinToken) String() string {
	id, err := hex.DecodeString(t.ID)
	if err != nil || len(id) != joinTokenIDLen || len(t.Secret) != joinTokenSecretLen {
		return joinTokenPrefix + "invalid"
	}
	raw := make([]byte, 0, joinTokenRawLen)
	raw = append(raw, id...)
	raw = append(raw, t.Secret...)
	raw = append(raw, t.CAFingerprint[:]...)
	return joinTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// LogValue shows only the public ID, so a token handed to slog by mistake
// does not leak its secret.
func (t JoinToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID))
}

// ParseJoinToken parses the text form strictly: the exact prefix, the exact
// length and only base64url characters, so every accepted string is the
// canonical String of the token it yields. Callers trim pasted whitespace
// first. Errors never quote the token (it holds a secret).
func ParseJoinToken(s string) (JoinToken, error) {
	body, ok := strings.CutPrefix(s, joinTokenPrefix)
	if !ok {
		if v, _, found := strings.Cut(s, "."); found && strings.HasPrefix(v, "tpj") && len(v) <= 8 {
			return JoinToken{}, fmt.Errorf("join token: unknown version %q (this build reads %q)", v, strings.TrimSuffix(joinTokenPrefix, "."))
		}
		return JoinToken{}, fmt.Errorf("join token: not a join token: a join token starts with %q", joinTokenPrefix)
	}
	if len(body) != joinTokenTextLen {
		return JoinToken{}, fmt.Errorf("join token: wrong length: %d characters after the prefix, want %d", len(body), joinTokenTextLen)
	}
	for i := 0; i < len(body); i++ {
		if !isBase64URL(body[i]) {
			return JoinToken{}, fmt.Errorf("join token: invalid character at position %d", len(joinTokenPrefix)+i)
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) != joinTokenRawLen {
		// Unreachable after the checks above; kept so a future layout
		// change cannot slip through silently.
		return JoinToken{}, errors.New("join token: malformed encoding")
	}
	t := JoinToken{
		ID:     hex.EncodeToString(raw[:joinTokenIDLen]),
		Secret: append([]byte(nil), raw[joinTokenIDLen:joinTokenIDLen+joinTokenSecretLen]...),
	}
	copy(t.CAFingerprint[:], raw[joinTokenIDLen+joinTokenSecretLen:])
	return t, nil
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// SecretHash is the lowercase hex SHA-256 of the secret: what the control
// plane stores and compares, so a leaked Raft log or snapshot does not leak
// usable tokens. (The secret is 256 random bits, so an unsalted fast hash is
// enough.)
func (t JoinToken) SecretHash() string {
	h := sha256.Sum256(t.Secret)
	return hex.EncodeToString(h[:])
}

// FingerprintCert is the SHA-256 of a certificate's DER encoding.
func FingerprintCert(der []byte) [32]byte {
	return sha256.Sum256(der)
}

// ErrOtherCA is VerifyPeerFingerprint's error when no certificate the
// peer presents is the pinned CA: the peer belongs to another cluster.
var ErrOtherCA = errors.New("no presented certificate matches the CA fingerprint")

// VerifyPeerFingerprint returns a tls.Config.VerifyPeerCertificate callback
// with which an agent authenticates the control plane on first contact,
// knowing only the CA fingerprint from its join token. Use it with
// InsecureSkipVerify: true, which is how crypto/tls lets a client replace
// (not skip) verification: the standard checks are off and this callback is
// the whole verification.
//
// It accepts the presented chain only if
//
//   - some presented certificate (typically the CA, sent after the leaf)
//     has SHA-256 fp, and
//   - the leaf verifies against that certificate as the sole root (the other
//     presented certificates may serve as intermediates), is within its
//     validity period and allows server authentication.
//
// Matching the fingerprint alone would not do: the CA certificate is public,
// so anyone could send it after a self-signed leaf whose key they hold. The
// chain check proves that the CA signed the key the peer proved it owns. The
// server-auth requirement stops an enrolled agent's certificate (client
// auth only, issued by the same CA) from impersonating the control plane.
// Host names are not checked: the pin, not DNS, names the cluster.
//
// crypto/tls does not call VerifyPeerCertificate on resumed sessions, so the
// first-contact config must not set a ClientSessionCache.
func VerifyPeerFingerprint(fp [32]byte) func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		if len(rawCerts) == 0 {
			return errors.New("verify peer: no certificate presented")
		}
		certs := make([]*x509.Certificate, len(rawCerts))
		for i, der := range rawCerts {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("verify peer: certificate %d: %w", i, err)
			}
			certs[i] = c
		}
		var pinned *x509.Certificate
		for i, der := range rawCerts {
			if FingerprintCert(der) == fp {
				pinned = certs[i]
				break
			}
		}
		if pinned == nil {
			return fmt.Errorf("verify peer: %w %x", ErrOtherCA, fp[:8])
		}
		roots := x509.NewCertPool()
		roots.AddCert(pinned)
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if _, err := certs[0].Verify(opts); err != nil {
			return fmt.Errorf("verify peer: certificate not issued by the pinned CA: %w", err)
		}
		return nil
	}
}
