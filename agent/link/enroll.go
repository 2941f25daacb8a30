package link

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// QUIC error codes the agent closes with.
const (
	codeOK       quic.ApplicationErrorCode = 0
	codeProtocol quic.ApplicationErrorCode = 1
	streamDone   quic.StreamErrorCode      = 0
	streamAbort  quic.StreamErrorCode      = 1
)

// permanent reports whether a code the cluster answered with means that
// asking again cannot succeed (the operator has to act), as opposed to a
// node that is busy, leaderless or failing for now.
func permanent(c api.Code) bool {
	switch c {
	case api.CodeUnavailable, api.CodeNoLeader, api.CodeTimeout, api.CodeInternal:
		return false
	}
	return true
}

// enroll asks the servers in turn for a certificate until one answers. A
// definite refusal (invalid token, revoked id) ends it with that error.
func (l *Link) enroll(ctx context.Context, tr *quic.Transport) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("enroll: generate key: %w", err)
	}
	bo := newBackoff(l.cfg.BackoffMin, l.cfg.BackoffMax)
	otherCA := map[string]bool{} // servers that presented another cluster's CA, since one did not
	for {
		addr := l.pickServer()
		l.setState(StateEnrolling, addr, "")
		l.log.Info("enrolling", "server", addr, "token", *l.token)
		enrolled, err := l.enrollOnce(ctx, tr, addr, key)
		var oc *otherClusterError
		if errors.As(err, &oc) {
			otherCA[addr] = true
			if l.allServersIn(otherCA) {
				err = &api.Error{Code: api.CodeWrongCluster, Message: fmt.Sprintf(
					"every control-plane node given (%s) belongs to another cluster than the one the join token is for: check --controlplane, or mint the token on this cluster (touchpoint fleet token)",
					strings.Join(l.dialList(), ", "))}
			}
		} else {
			clear(otherCA)
		}
		if err == nil {
			if err = l.finishEnrollment(key, enrolled); err == nil {
				l.setError(nil)
				l.log.Info("enrolled", "server", addr, "cluster", enrolled.ClusterID)
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.setError(err)
		var ae *api.Error
		if errors.As(err, &ae) && permanent(ae.Code) {
			l.log.Error("enrollment refused", "server", addr, "code", ae.Code, "error", ae.Message)
			return err
		}
		d := bo.next()
		l.log.Warn("enrollment failed, retrying", "server", addr, "error", err, "retry_in", d.Round(time.Millisecond))
		l.rotate()
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// enrollOnce runs one enrollment connection: verify the node against the
// token's CA fingerprint, send Enroll, read Enrolled or Error.
func (l *Link) enrollOnce(ctx context.Context, tr *quic.Transport, addr string, key *ecdsa.PrivateKey) (*wire.Enrolled, error) {
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	host, _, _ := net.SplitHostPort(addr)
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		ServerName: host,
		// The standard checks are replaced, not skipped: the callback
		// (VerifyPeerCertificate, below) verifies the chain against the
		// pinned CA. No session cache: resumed sessions would skip the
		// callback.
		InsecureSkipVerify: true,
		Time:               l.cfg.Now,
	}
	var otherCA atomic.Bool // the node presented another cluster's CA
	tlsConf.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
		err := protocol.VerifyPeerFingerprint(l.token.CAFingerprint)(raw, chains)
		otherCA.Store(errors.Is(err, protocol.ErrOtherCA))
		return err
	}
	conn, err := l.dial(ctx, tr, addr, tlsConf)
	if err != nil {
		if otherCA.Load() {
			return nil, &otherClusterError{addr: addr, err: err}
		}
		return nil, fmt.Errorf("enroll with %s: %w", addr, err)
	}
	defer conn.CloseWithError(codeOK, "enrollment done")
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("enroll with %s: open stream: %w", addr, err)
	}
	defer closeStream(s)
	stop := context.AfterFunc(ctx, func() { s.CancelRead(streamAbort) })
	defer stop()
	req := wire.Enroll{
		ProtocolVersion: wire.ProtocolVersion,
		Token:           l.token.String(),
		AgentID:         l.cfg.AgentID,
		Site:            l.cfg.Site,
		Channel:         l.cfg.Channel,
		Version:         l.cfg.Version,
		PublicKey:       pub,
		GossipAddr:      l.cfg.GossipAddr,
	}
	if err := wire.WriteFrame(s, wire.MsgEnroll, &req); err != nil {
		return nil, fmt.Errorf("enroll with %s: %w", addr, err)
	}
	_ = s.Close() // nothing more to say
	_ = s.SetReadDeadline(time.Now().Add(l.cfg.DialTimeout))
	f, err := wire.ReadFrame(s, 0)
	if err != nil {
		return nil, fmt.Errorf("enroll with %s: read answer: %w", addr, err)
	}
	switch f.Type {
	case wire.MsgEnrolled:
		var e wire.Enrolled
		if err := f.Decode(&e); err != nil {
			return nil, fmt.Errorf("enroll with %s: %w", addr, err)
		}
		return &e, nil
	case wire.MsgError:
		return nil, fmt.Errorf("enroll with %s: %w", addr, decodeError(f))
	}
	return nil, fmt.Errorf("enroll with %s: unexpected %s frame", addr, f.Type)
}

// otherClusterError is an enrollment connection whose node presented
// another cluster's CA than the join token pins.
type otherClusterError struct {
	addr string
	err  error
}

func (e *otherClusterError) Error() string {
	return fmt.Sprintf("enroll with %s: the node belongs to another cluster than the join token's: %v", e.addr, e.err)
}

func (e *otherClusterError) Unwrap() error { return e.err }

// allServersIn reports whether every server the link would try is in set.
func (l *Link) allServersIn(set map[string]bool) bool {
	list := l.dialList()
	for _, s := range list {
		if !set[s] {
			return false
		}
	}
	return len(list) > 0
}

// dialList is dialListLocked, taking the lock.
func (l *Link) dialList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dialListLocked()
}

// finishEnrollment checks what the node issued and persists it.
func (l *Link) finishEnrollment(key *ecdsa.PrivateKey, e *wire.Enrolled) error {
	id, err := l.checkEnrolled(key, e)
	if err != nil {
		return fmt.Errorf("enrollment answer refused: %w", err)
	}
	if err := saveRole(l.cfg.Dir, role{Site: l.cfg.Site, Channel: l.cfg.Channel}); err != nil {
		return err
	}
	if err := saveIdentity(l.cfg.Dir, id); err != nil {
		return err
	}
	l.mu.Lock()
	l.id = id
	l.mu.Unlock()
	l.learnServers(e.Servers)
	if len(e.GossipKeys) > 0 {
		if err := l.installKeys(e.GossipKeys); err != nil {
			l.log.Warn("install gossip keys", "error", err)
		}
	}
	return nil
}

// checkEnrolled verifies that the CA is the one the token pins, and that
// the certificate chains to it, names this agent, is for client
// authentication and holds our key.
func (l *Link) checkEnrolled(key *ecdsa.PrivateKey, e *wire.Enrolled) (*identity, error) {
	if protocol.FingerprintCert(e.CA) != l.token.CAFingerprint {
		return nil, errors.New("the CA is not the one the join token names")
	}
	ca, err := x509.ParseCertificate(e.CA)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	cert, err := x509.ParseCertificate(e.Certificate)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: l.cfg.Now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if got := certAgentID(cert); got != l.cfg.AgentID {
		return nil, fmt.Errorf("certificate names agent %q, not %q", got, l.cfg.AgentID)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("certificate is not for the key this agent sent")
	}
	return &identity{key: key, cert: cert, certDER: bytes.Clone(e.Certificate), ca: ca, caDER: bytes.Clone(e.CA)}, nil
}

// dial opens a QUIC connection to addr over the link's transport. The
// name lookup is bounded like the handshake: by DialTimeout and by ctx, so
// that a resolver that does not answer (an edge site whose uplink is down)
// neither holds a reconnect attempt past DialTimeout nor the agent's
// shutdown until the resolver gives up (net.ResolveUDPAddr takes no
// context: 2 attempts of 5 s with resolv.conf's defaults).
func (l *Link) dial(ctx context.Context, tr *quic.Transport, addr string, tlsConf *tls.Config) (*quic.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, l.cfg.DialTimeout)
	defer cancel()
	ua, err := resolveUDP(dctx, cmp.Or(l.cfg.Resolver, net.DefaultResolver), addr)
	if err != nil {
		return nil, err
	}
	return tr.Dial(dctx, ua, tlsConf, &quic.Config{
		HandshakeIdleTimeout: l.cfg.DialTimeout,
		KeepAlivePeriod:      l.cfg.KeepAlivePeriod,
		MaxIdleTimeout:       l.cfg.MaxIdleTimeout,
	})
}

// resolveUDP is net.ResolveUDPAddr("udp", addr) under ctx, with r: an IP
// literal is used as it is, a name is looked up with the context, and the
// first IPv4 address is preferred, as ResolveUDPAddr does.
func resolveUDP(ctx context.Context, r *net.Resolver, addr string) (*net.UDPAddr, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := r.LookupPort(ctx, "udp", portStr)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), nil
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	pick := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			pick = ip
			break
		}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(pick.Unmap(), uint16(port))), nil
}

// decodeError turns an Error frame into an *api.Error.
func decodeError(f wire.Frame) error {
	var e wire.Error
	if err := f.Decode(&e); err != nil {
		return err
	}
	if e.Code == "" {
		e.Code = api.CodeInternal
	}
	return &api.Error{Code: e.Code, Message: e.Message}
}

// closeStream ends both directions of a stream we are done with: reading
// is cancelled (a no-op after EOF) and writing closed (a no-op if already
// closed or reset). Every stream goes through it on every path.
func closeStream(s *quic.Stream) {
	s.CancelRead(streamDone)
	_ = s.Close()
}
