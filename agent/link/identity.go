package link

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/protocol/wire"
)

// Files of the identity directory. Each is written atomically (a temporary
// file, fsync, rename, fsync of the directory), so a crash leaves either the
// old or the new content. agent.crt is written last at enrollment: its
// presence (with agent.key) is what "enrolled" means.
const (
	fileKey      = "agent.key"      // ECDSA P-256, PKCS #8 PEM, 0600
	fileCert     = "agent.crt"      // the agent's certificate, PEM
	fileCA       = "ca.crt"         // the cluster CA, PEM
	fileKeys     = "gossip.keys"    // JSON {"keys": [base64…]}, primary first, 0600
	fileServers  = "servers.json"   // JSON {"servers": [wire.ServerInfo…]}
	fileResetKey = "quic.reset.key" // 32 random bytes, 0600
	fileRole     = "role.json"      // JSON {"site","channel"} the agent enrolled with
	agentURI     = "touchpoint://agent/"
)

// HasIdentity reports whether the identity directory dir holds an
// enrolled agent's certificate (what a new outbox needs to know: see
// outbox.Config.Enrolled).
func HasIdentity(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, fileCert))
	return err == nil
}

// identity is what enrollment gave the agent.
type identity struct {
	key     *ecdsa.PrivateKey
	cert    *x509.Certificate
	certDER []byte
	ca      *x509.Certificate
	caDER   []byte
}

// loadIdentity reads the identity in dir: nil (and no error) when the agent
// has not finished enrolling. An identity that names another agent, or
// whose parts do not fit together, is an error: the directory belongs to
// someone else or was damaged, and enrolling again would hide that.
func loadIdentity(dir, agentID string) (*identity, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, fileCert))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, fileKey))
	if err != nil {
		return nil, fmt.Errorf("read identity: %s is there but its key is not: %w", fileCert, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, fileCA))
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	id := &identity{}
	if id.certDER, err = derOf(certPEM, "CERTIFICATE"); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileCert, err)
	}
	if id.cert, err = x509.ParseCertificate(id.certDER); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileCert, err)
	}
	if id.caDER, err = derOf(caPEM, "CERTIFICATE"); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileCA, err)
	}
	if id.ca, err = x509.ParseCertificate(id.caDER); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileCA, err)
	}
	keyDER, err := derOf(keyPEM, "PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fileKey, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fileKey, err)
	}
	var ok bool
	if id.key, ok = k.(*ecdsa.PrivateKey); !ok {
		return nil, fmt.Errorf("read %s: %T is not an ECDSA key", fileKey, k)
	}
	if !id.key.PublicKey.Equal(id.cert.PublicKey) {
		return nil, fmt.Errorf("identity in %s: %s does not hold the key of %s", dir, fileKey, fileCert)
	}
	if err := id.cert.CheckSignatureFrom(id.ca); err != nil {
		return nil, fmt.Errorf("identity in %s: %s is not signed by %s: %w", dir, fileCert, fileCA, err)
	}
	if got := certAgentID(id.cert); got != agentID {
		return nil, fmt.Errorf("identity in %s belongs to agent %q, not %q: give that id or another data directory", dir, got, agentID)
	}
	return id, nil
}

// certAgentID is the agent id a certificate names (its single
// touchpoint://agent/<id> URI), or "".
func certAgentID(c *x509.Certificate) string {
	id := ""
	for _, u := range c.URIs {
		if s := u.String(); len(s) > len(agentURI) && s[:len(agentURI)] == agentURI {
			if id != "" {
				return ""
			}
			id = s[len(agentURI):]
		}
	}
	return id
}

// derOf accepts a single PEM block of type typ, or raw DER.
func derOf(b []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		if len(b) > 0 && b[0] == 0x30 { // an ASN.1 SEQUENCE: DER
			return b, nil
		}
		return nil, errors.New("neither PEM nor DER")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the PEM block")
	}
	return block.Bytes, nil
}

// saveIdentity persists what enrollment gave: the key, the CA and, last,
// the certificate.
func saveIdentity(dir string, id *identity) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return fmt.Errorf("persist identity: %w", err)
	}
	files := []struct {
		name string
		typ  string
		der  []byte
		perm os.FileMode
	}{
		{fileKey, "PRIVATE KEY", keyDER, 0o600},
		{fileCA, "CERTIFICATE", id.caDER, 0o644},
		{fileCert, "CERTIFICATE", id.certDER, 0o644},
	}
	for _, f := range files {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := writeFileAtomic(filepath.Join(dir, f.name), b, f.perm); err != nil {
			return fmt.Errorf("persist identity: %w", err)
		}
	}
	return nil
}

// Enrollment is what an identity directory remembers of its agent: the id
// its certificate names and the site and channel it enrolled with. A
// restart needs no more than the data directory.
type Enrollment struct {
	ID      string
	Site    string // "" for an agent enrolled before role.json was written
	Channel string // as Site
}

// ReadEnrollment reads what the identity directory dir remembers of its
// agent; ok is false when the agent has not finished enrolling (dir holds
// no certificate). Only the certificate's name is read here: New checks
// the identity in full.
func ReadEnrollment(dir string) (e Enrollment, ok bool, err error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, fileCert))
	if errors.Is(err, fs.ErrNotExist) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("read identity: %w", err)
	}
	der, err := derOf(certPEM, "CERTIFICATE")
	if err != nil {
		return e, false, fmt.Errorf("read %s: %w", filepath.Join(dir, fileCert), err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return e, false, fmt.Errorf("read %s: %w", filepath.Join(dir, fileCert), err)
	}
	if e.ID = certAgentID(cert); e.ID == "" {
		return e, false, fmt.Errorf("read %s: the certificate names no agent (one %s URI)", filepath.Join(dir, fileCert), agentURI)
	}
	b, err := os.ReadFile(filepath.Join(dir, fileRole))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return e, true, nil
	case err != nil:
		return e, false, fmt.Errorf("read %s: %w", fileRole, err)
	}
	var r role
	if err := json.Unmarshal(b, &r); err != nil {
		return e, false, fmt.Errorf("read %s: %w", filepath.Join(dir, fileRole), err)
	}
	e.Site, e.Channel = r.Site, r.Channel
	return e, true, nil
}

// role is the site and channel an agent enrolled with: the fleet registry
// holds them, and the ledger records them with every contact.
type role struct {
	Site    string `json:"site"`
	Channel string `json:"channel"`
}

// checkRole compares the site and channel an agent is started with to
// those it enrolled with (role.json), and refuses a change: the registry
// would go on naming the old ones while the ledger records the new. A
// directory enrolled before role.json existed records the ones given now.
func checkRole(dir string, now role) error {
	b, err := os.ReadFile(filepath.Join(dir, fileRole))
	if errors.Is(err, fs.ErrNotExist) {
		return saveRole(dir, now)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", fileRole, err)
	}
	var was role
	if err := json.Unmarshal(b, &was); err != nil {
		return fmt.Errorf("read %s: %w", fileRole, err)
	}
	if was != now {
		return fmt.Errorf("this agent enrolled as site %q, channel %q, and is started as site %q, channel %q: an agent keeps the site and channel it enrolled with (the fleet registry names them, the ledger records them). Start it with --site %s --channel %s, or enroll the box under a new agent id with a new data directory",
			was.Site, was.Channel, now.Site, now.Channel, was.Site, was.Channel)
	}
	return nil
}

func saveRole(dir string, r role) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, fileRole), b, 0o644); err != nil {
		return fmt.Errorf("persist %s: %w", fileRole, err)
	}
	return nil
}

type keysFile struct {
	Keys [][]byte `json:"keys"`
}

func loadKeys(dir string) ([][]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, fileKeys))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read gossip keys: %w", err)
	}
	var f keysFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileKeys, err)
	}
	return f.Keys, nil
}

func saveKeys(dir string, keys [][]byte) error {
	b, err := json.Marshal(keysFile{Keys: keys})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, fileKeys), b, 0o600); err != nil {
		return fmt.Errorf("persist gossip keys: %w", err)
	}
	return nil
}

type serversFile struct {
	Servers []wire.ServerInfo `json:"servers"`
}

func loadServers(dir string) ([]wire.ServerInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, fileServers))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known servers: %w", err)
	}
	var f serversFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", fileServers, err)
	}
	return f.Servers, nil
}

func saveServers(dir string, servers []wire.ServerInfo) error {
	b, err := json.MarshalIndent(serversFile{Servers: servers}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, fileServers), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("persist known servers: %w", err)
	}
	return nil
}

// loadResetKey returns the agent's QUIC stateless reset key, creating it
// once. A stable key lets the agent, after a restart, reset a connection
// the node still believes in as soon as the node's packets arrive (rather
// than after the node's idle timeout).
func loadResetKey(dir string) (*quic.StatelessResetKey, error) {
	path := filepath.Join(dir, fileResetKey)
	var key quic.StatelessResetKey
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) == len(key):
		copy(key[:], b)
		return &key, nil
	case err == nil:
		return nil, fmt.Errorf("%s is %d bytes, want %d", path, len(b), len(key))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read QUIC reset key: %w", err)
	}
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("create QUIC reset key: %w", err)
	}
	if err := writeFileAtomic(path, key[:], 0o600); err != nil {
		return nil, fmt.Errorf("create QUIC reset key: %w", err)
	}
	return &key, nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
