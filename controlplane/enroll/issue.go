package enroll

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// leafBackdate is how far before now a leaf certificate becomes valid, to
// absorb clock skew between a node and an agent.
const leafBackdate = 5 * time.Minute

// agentURIPrefix starts the URI SAN that names an agent. The URI, not the
// common name, is the agent's identity.
const agentURIPrefix = "touchpoint://agent/"

// IssueAgent returns the DER of a client certificate for agentID and the
// public key the agent generated (its private key never leaves the agent).
// The certificate's common name is agentID, its URI SAN
// touchpoint://agent/<agentID>, its only extended key usage client
// authentication; it is valid from five minutes before now until now+ttl,
// but never beyond the CA.
func (ca *CA) IssueAgent(rand io.Reader, agentID string, pub crypto.PublicKey, now time.Time, ttl time.Duration) ([]byte, error) {
	if !protocol.ValidAgentID(agentID) {
		return nil, fmt.Errorf("issue agent certificate: invalid agent id %q", agentID)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: agentID},
		URIs:        []*url.URL{agentURI(agentID)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := ca.issue(rand, tmpl, pub, now, ttl)
	if err != nil {
		return nil, fmt.Errorf("issue agent certificate for %s: %w", agentID, err)
	}
	return der, nil
}

// IssueServer returns the DER of a certificate for control-plane node nodeID:
// server authentication (what agents check with
// protocol.VerifyPeerFingerprint) and client authentication (for node-to-node
// connections), with each of hosts as an IP or DNS subject alternative name.
// It carries no agent URI, so AgentIDFromCert refuses it.
func (ca *CA) IssueServer(rand io.Reader, nodeID string, pub crypto.PublicKey, hosts []string, now time.Time, ttl time.Duration) ([]byte, error) {
	if !protocol.ValidAgentID(nodeID) {
		return nil, fmt.Errorf("issue server certificate: invalid node id %q", nodeID)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("issue server certificate for %s: no hosts", nodeID)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: nodeID},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.Zone() != "" {
				return nil, fmt.Errorf("issue server certificate for %s: host %q: an IP zone cannot be certified", nodeID, h)
			}
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
			continue
		}
		if !validDNSName(h) {
			return nil, fmt.Errorf("issue server certificate for %s: host %q is neither an IP address nor a DNS name", nodeID, h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	der, err := ca.issue(rand, tmpl, pub, now, ttl)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate for %s: %w", nodeID, err)
	}
	return der, nil
}

// issue fills in the fields every leaf shares and signs tmpl.
func (ca *CA) issue(rand io.Reader, tmpl *x509.Certificate, pub crypto.PublicKey, now time.Time, ttl time.Duration) ([]byte, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("ttl %v is not positive", ttl)
	}
	if pub == nil {
		return nil, errors.New("no public key")
	}
	serial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-leafBackdate)
	tmpl.NotAfter = now.Add(ttl)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true // and IsCA false: a leaf
	der, err := x509.CreateCertificate(rand, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	return der, nil
}

func agentURI(agentID string) *url.URL {
	return &url.URL{Scheme: "touchpoint", Host: "agent", Path: "/" + agentID}
}

// AgentIDFromCert returns the agent id named by the certificate's
// touchpoint://agent/<id> URI SAN. It requires exactly one such URI, in the
// exact form IssueAgent writes. It does not verify the certificate: call it
// on a peer certificate crypto/tls has already verified against the CA (for
// example tls.ConnectionState.PeerCertificates[0] under
// tls.RequireAndVerifyClientCert).
func AgentIDFromCert(c *x509.Certificate) (string, error) {
	if c == nil {
		return "", errors.New("agent id from certificate: no certificate")
	}
	var id string
	n := 0
	for _, u := range c.URIs {
		if u.Scheme != "touchpoint" || u.Host != "agent" {
			continue
		}
		n++
		id = strings.TrimPrefix(u.Path, "/")
		if !protocol.ValidAgentID(id) || u.String() != agentURIPrefix+id {
			return "", fmt.Errorf("agent id from certificate: malformed agent URI %q", u.String())
		}
	}
	switch n {
	case 0:
		return "", errors.New("agent id from certificate: not an agent certificate (no " + agentURIPrefix + " URI)")
	case 1:
		return id, nil
	default:
		return "", fmt.Errorf("agent id from certificate: %d agent URIs, want one", n)
	}
}

// validDNSName accepts host names of letters, digits, '-' and '.', with
// labels of 1 to 63 characters that neither start nor end with '-', no
// trailing dot and no wildcards.
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
