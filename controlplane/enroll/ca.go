// Package enroll holds the cluster certificate authority that admits agents
// to the fleet: the CA itself (created once, stored in Raft as PEM), the
// agent and control-plane node certificates it issues, and the identity
// check the control plane applies to every mutually authenticated
// connection (AgentIDFromCert).
//
// It is pure: time and randomness are parameters and nothing here does I/O,
// so the FSM can replicate a CA and the API can issue certificates without
// this package knowing about either. Join tokens, which carry the CA's
// fingerprint to a new agent, live in protocol because the agent reads them
// too.
//
// Since Go 1.26, crypto/ecdsa ignores the random source passed to key
// generation and signing (unless GODEBUG=cryptocustomrand=1) and always uses
// a secure one; the rand parameters here still supply the certificate serial
// numbers, and tests that need deterministic keys use
// testing/cryptotest.SetGlobalRandom.
package enroll

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// CA is the cluster certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertDER []byte
	Key     *ecdsa.PrivateKey
}

// NewCA creates a self-signed ECDSA P-256 CA for the cluster, valid for ten
// years from an hour before now (the hour absorbs clock skew between nodes).
// The CA may sign only leaf certificates (path length zero).
func NewCA(rand io.Reader, clusterID string, now time.Time) (*CA, error) {
	if !protocol.ValidAgentID(clusterID) {
		return nil, fmt.Errorf("new CA: invalid cluster id %q", clusterID)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := randomSerial(rand)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	notBefore := now.Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "touchpoint cluster CA " + clusterID},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: parse certificate: %w", err)
	}
	return &CA{Cert: cert, CertDER: der, Key: key}, nil
}

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY" // PKCS #8
)

// MarshalPEM encodes the certificate and the PKCS #8 private key. The key
// PEM is a secret: it belongs in Raft (and so in snapshots), never in logs
// or API responses.
func (ca *CA) MarshalPEM() (certPEM, keyPEM []byte, err error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal CA key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: ca.CertDER})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// ParseCA decodes what MarshalPEM wrote. It checks that each input holds
// exactly one block of the right type, that the certificate is a CA allowed
// to sign certificates, and that the key is the certificate's.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	certDER, err := onePEM(certPEM, pemCertificate)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("parse CA certificate: not a CA certificate")
	}
	keyDER, err := onePEM(keyPEM, pemPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse CA key: %T is not an ECDSA key", k)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("parse CA: the key does not match the certificate")
	}
	return &CA{Cert: cert, CertDER: certDER, Key: key}, nil
}

// onePEM returns the bytes of the single PEM block of type typ in b.
func onePEM(b []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the PEM block")
	}
	return block.Bytes, nil
}

// randomSerial draws a positive 128-bit serial number.
func randomSerial(rand io.Reader) (*big.Int, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("read random serial: %w", err)
	}
	s := new(big.Int).SetBytes(b[:])
	if s.Sign() == 0 {
		return nil, errors.New("random source returned a zero serial")
	}
	return s, nil
}
