package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"

	"touchpoint.dev/touchpoint/controlplane/enroll"
)

var errNoCA = errors.New("the cluster has no CA yet")

// nodeCertTTL is how long a node's own certificate lives; it is renewed
// when less than half remains (and re-issued at every start).
const nodeCertTTL = 30 * 24 * time.Hour

// refreshCert (re)issues this node's server certificate from the cluster CA
// held in Raft when there is none, it is past half its life, or the CA
// changed (a restore of another cluster's snapshot).
func (g *Gateway) refreshCert() error {
	stored, ok, err := g.state.CA()
	if err != nil {
		return fmt.Errorf("gateway: read cluster CA: %w", err)
	}
	if !ok {
		return errNoCA
	}
	now := g.cfg.Now()
	g.certMu.Lock()
	defer g.certMu.Unlock()
	ca := g.ca
	if ca == nil || !bytes.Equal(ca.CertDER, pemDER(stored.CertPEM)) {
		ca, err = enroll.ParseCA([]byte(stored.CertPEM), []byte(stored.KeyPEM))
		if err != nil {
			return fmt.Errorf("gateway: cluster CA: %w", err)
		}
	} else if g.cert != nil && now.Before(g.certTill) {
		return nil
	}
	host, _, err := net.SplitHostPort(g.advertise)
	if err != nil {
		return fmt.Errorf("gateway: advertise address %s: %w", g.advertise, err)
	}
	hosts := []string{host}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		hosts = append(hosts, "localhost")
	}
	der, err := ca.IssueServer(rand.Reader, g.cfg.NodeID, g.nodeKey.Public(), hosts, now, nodeCertTTL)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("gateway: parse own certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	g.ca, g.caPool, g.certCA = ca, pool, ca.CertDER
	// The chain carries the CA after the leaf: an agent on first contact
	// pins it by fingerprint (protocol.VerifyPeerFingerprint).
	g.cert = &tls.Certificate{Certificate: [][]byte{der, ca.CertDER}, PrivateKey: g.nodeKey, Leaf: leaf}
	g.certTill = now.Add(nodeCertTTL / 2)
	return nil
}

func pemDER(p string) []byte {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil
	}
	return block.Bytes
}

// serverTLS is the per-handshake server configuration: client certificates
// are verified against the cluster CA when given (agents enroll without
// one; the connection's kind is decided after the handshake).
func (g *Gateway) serverTLS() (*tls.Config, error) {
	if err := g.refreshCert(); err != nil {
		g.log.Warn("refresh node certificate", "error", err)
	}
	g.certMu.Lock()
	defer g.certMu.Unlock()
	if g.cert == nil {
		return nil, errNoCA
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"touchpoint/1"},
		Certificates: []tls.Certificate{*g.cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    g.caPool,
		// No session tickets: every connection presents and is checked
		// against the registry with a full handshake.
		SessionTicketsDisabled: true,
	}, nil
}

// clientTLS is how this node dials another node's gateway: its own
// certificate, the cluster CA as the only root.
func (g *Gateway) clientTLS(serverName string) (*tls.Config, error) {
	if err := g.refreshCert(); err != nil {
		return nil, err
	}
	g.certMu.Lock()
	defer g.certMu.Unlock()
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"touchpoint/1"},
		Certificates: []tls.Certificate{*g.cert},
		RootCAs:      g.caPool,
		ServerName:   serverName,
	}, nil
}

// issueAgent signs an agent certificate.
func (g *Gateway) issueAgent(agentID string, pubDER []byte) (cert, ca []byte, err error) {
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		return nil, nil, fmt.Errorf("public key: %w", err)
	}
	g.certMu.Lock()
	c := g.ca
	g.certMu.Unlock()
	if c == nil {
		return nil, nil, errNoCA
	}
	der, err := c.IssueAgent(rand.Reader, agentID, pub, g.cfg.Now(), g.cfg.AgentCertTTL)
	if err != nil {
		return nil, nil, err
	}
	return der, c.CertDER, nil
}
