package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Codes of the node's Error answer to Hello that mean the cluster refuses
// this agent: waiting longer does not help, but the operator may undo it.
func refused(c api.Code) bool {
	return c == api.CodeRevoked || c == api.CodeUnauthorized || c == api.CodeForbidden
}

// refusal finds why the cluster refuses the agent in err: an Error frame,
// or a connection the node closed with a reason that starts with a refusal
// code ("revoked" or "revoked: …"). A node that closes right after its
// Error frame may have its CONNECTION_CLOSE arrive first; the reason then
// is the only word the agent gets.
func refusal(err error) (*api.Error, bool) {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae, refused(ae.Code)
	}
	var qe *quic.ApplicationError
	if errors.As(err, &qe) && qe.Remote {
		code, msg, _ := strings.Cut(qe.ErrorMessage, ":")
		if c := api.Code(strings.TrimSpace(code)); refused(c) {
			return &api.Error{Code: c, Message: strings.TrimSpace(msg)}, true
		}
	}
	return nil, false
}

// errOtherCluster ends a session whose node sent changes of a cluster (or
// epoch) other than the copy's: the next Hello gets a snapshot.
var errOtherCluster = errors.New("the node sent changes of another cluster or epoch")

// sessions holds one session after another until ctx ends.
func (l *Link) sessions(ctx context.Context, tr *quic.Transport) {
	bo := newBackoff(l.cfg.BackoffMin, l.cfg.BackoffMax)
	for ctx.Err() == nil {
		addr := l.pickServer()
		l.setState(StateConnecting, addr, "")
		welcomed, err := l.session(ctx, tr, addr)
		if ctx.Err() != nil {
			return
		}
		l.setState(StateOffline, "", "")
		l.setError(err)
		if welcomed {
			bo.reset()
		}
		ae, isRefusal := refusal(err)
		l.revoked.Store(isRefusal && ae.Code == api.CodeRevoked)
		switch {
		case isRefusal:
			d := jitter(l.cfg.RefusedBackoff)
			l.log.Error("control plane refuses this agent; serving locally", "server", addr,
				"code", ae.Code, "error", ae.Message, "retry_in", d.Round(time.Second))
			l.rotate()
			sleep(ctx, d)
		case errors.Is(err, errOtherCluster):
			l.log.Info("configuration of another cluster or epoch: reconnecting for a snapshot", "server", addr)
			sleep(ctx, jitter(l.cfg.BackoffMin))
		default:
			d := bo.next()
			l.log.Warn("session ended", "server", addr, "welcomed", welcomed, "error", err, "retry_in", d.Round(time.Millisecond))
			l.rotate()
			sleep(ctx, d)
		}
	}
}

// session holds one agent session with the node at addr. It reports whether
// the node welcomed the agent, and why the session ended.
func (l *Link) session(ctx context.Context, tr *quic.Transport, addr string) (welcomed bool, err error) {
	l.mu.Lock()
	id := l.id
	l.mu.Unlock()
	host, _, _ := net.SplitHostPort(addr)
	roots := x509.NewCertPool()
	roots.AddCert(id.ca)
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		// Node certificates carry the node's advertised host as an IP or
		// DNS name; the cluster CA is the only root. No session cache.
		ServerName:   host,
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{id.certDER}, PrivateKey: id.key, Leaf: id.cert}},
		Time:         l.cfg.Now,
	}
	conn, err := l.dial(ctx, tr, addr, tlsConf)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var ctrl *quic.Stream
	defer func() {
		cancel()
		if ctrl != nil {
			ctrl.CancelRead(streamDone)
		}
		code, msg := codeOK, "session ended"
		if err != nil && !errors.Is(err, context.Canceled) {
			code, msg = codeProtocol, "session failed"
			var ae *api.Error
			if errors.As(err, &ae) || errors.Is(err, errOtherCluster) {
				code = codeOK
			}
		}
		_ = conn.CloseWithError(code, msg)
		wg.Wait() // the events stream and the status writer have stopped
		if ctrl != nil {
			closeStream(ctrl)
		}
	}()
	// Whatever blocks on the connection returns once it is closed.
	stop := context.AfterFunc(ctx, func() { _ = conn.CloseWithError(codeOK, "agent closing") })
	defer stop()

	ctrl, err = conn.OpenStreamSync(ctx)
	if err != nil {
		return false, fmt.Errorf("open control stream: %w", err)
	}
	w := &frameWriter{s: ctrl}
	pos := l.cache.Position()
	st := l.ob.Stats()
	hello := wire.Hello{
		ProtocolVersion: wire.ProtocolVersion,
		AgentID:         l.cfg.AgentID,
		Site:            l.cfg.Site,
		Channel:         l.cfg.Channel,
		Version:         l.cfg.Version,
		ClusterID:       pos.ClusterID,
		Epoch:           pos.Epoch,
		Index:           pos.Index,
		AckedSeq:        st.Acked,
		Region:          l.cfg.Region,
	}
	if err := w.write(wire.MsgHello, &hello); err != nil {
		return false, err
	}
	_ = ctrl.SetReadDeadline(time.Now().Add(l.cfg.DialTimeout))
	f, err := wire.ReadFrame(ctrl, 0)
	if err != nil {
		return false, fmt.Errorf("read welcome: %w", err)
	}
	_ = ctrl.SetReadDeadline(time.Time{})
	switch f.Type {
	case wire.MsgWelcome:
	case wire.MsgError:
		return false, fmt.Errorf("hello refused: %w", decodeError(f))
	default:
		return false, fmt.Errorf("expected welcome, got %s", f.Type)
	}
	var wel wire.Welcome
	if err := f.Decode(&wel); err != nil {
		return false, err
	}
	l.mu.Lock()
	l.st.ClusterID = wel.ClusterID
	l.mu.Unlock()
	l.setState(StateConnected, addr, wel.NodeID)
	l.setError(nil)
	l.revoked.Store(false)
	l.log.Info("session established", "server", addr, "node", wel.NodeID, "cluster", wel.ClusterID,
		"index", pos.Index, "highest_seq", wel.HighestSeq)
	l.learnServers(wel.Servers)
	if err := l.ackThrough(wel.HighestSeq); err != nil {
		l.log.Warn("acknowledge events the cluster holds", "through", wel.HighestSeq, "error", err)
	}

	l.setConn(conn)
	defer l.setConn(nil)
	wg.Add(3)
	go func() {
		defer wg.Done()
		l.eventStreams(ctx, conn)
	}()
	go func() {
		defer wg.Done()
		l.prefetch(ctx, conn)
	}()
	go func() {
		defer wg.Done()
		if err := l.reportStatus(ctx, w); err != nil && ctx.Err() == nil {
			l.log.Debug("status reports stopped", "error", err)
			cancel()
		}
	}()
	return true, l.readControl(ctx, ctrl)
}

// readControl applies what the node pushes on the control stream until the
// stream or the session ends.
func (l *Link) readControl(ctx context.Context, ctrl *quic.Stream) error {
	for {
		f, err := wire.ReadFrame(ctrl, 0)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read control stream: %w", err)
		}
		switch f.Type {
		case wire.MsgChanges:
			var m wire.Changes
			if err := f.Decode(&m); err != nil {
				return err
			}
			pos := cache.Position{ClusterID: m.ClusterID, Epoch: m.Epoch, Index: m.Index}
			n, err := l.cache.ApplyChanges(pos, m.Changes)
			if err != nil {
				return l.changeFailed(pos, err)
			}
			l.changeApplied()
			l.log.Debug("changes applied", "index", m.Index, "applied", n, "received", len(m.Changes))
		case wire.MsgSnapshot:
			var m wire.Snapshot
			if err := f.Decode(&m); err != nil {
				return err
			}
			pos := cache.Position{ClusterID: m.ClusterID, Epoch: m.Epoch, Index: m.Index}
			installed, err := l.cache.ApplySnapshot(pos, m.Objects)
			if err != nil {
				return l.changeFailed(pos, err)
			}
			l.changeApplied()
			l.log.Info("snapshot received", "position", pos.String(), "objects", len(m.Objects), "installed", installed)
			if installed {
				// The snapshot dropped the profiles: prefetch again.
				l.mu.Lock()
				l.generation++
				conn := l.conn
				l.mu.Unlock()
				if conn != nil {
					go l.prefetch(ctx, conn)
				}
			}
		case wire.MsgContacts:
			if err := l.contactsPushed(f); err != nil {
				return fmt.Errorf("contacts: %w", err)
			}
		case wire.MsgKeyring:
			var m wire.Keyring
			if err := f.Decode(&m); err != nil {
				return err
			}
			if err := l.installKeys(m.Keys); err != nil {
				l.log.Warn("install gossip keys", "error", err)
			}
		case wire.MsgOfferVolumes:
			var m wire.OfferVolumes
			if err := f.Decode(&m); err != nil {
				return err
			}
			if l.cfg.OnOfferVolumes != nil {
				l.cfg.OnOfferVolumes(m.Volumes)
			}
		case wire.MsgError:
			return fmt.Errorf("node ended the session: %w", decodeError(f))
		default:
			if f.Type >= wire.FirstOptionalType {
				l.log.Debug("skipping an optional message", "type", f.Type)
				continue
			}
			if !wire.Known(f.Type) {
				return fmt.Errorf("control stream: %w: %d", wire.ErrUnknownMessage, f.Type)
			}
			return fmt.Errorf("control stream: unexpected %s frame", f.Type)
		}
	}
}

func (l *Link) changeApplied() {
	l.mu.Lock()
	l.st.LastChangeError = ""
	l.mu.Unlock()
	select {
	case l.applied <- struct{}{}:
	default:
	}
}

// changeFailed records why the copy could not follow and ends the session:
// the next one resumes from the index the copy holds.
func (l *Link) changeFailed(pos cache.Position, err error) error {
	if errors.Is(err, cache.ErrOtherCluster) {
		return errOtherCluster
	}
	l.mu.Lock()
	l.st.LastChangeError = fmt.Sprintf("apply %s: %v", pos, err)
	l.mu.Unlock()
	if errors.Is(err, cache.ErrStaleEpoch) {
		l.log.Warn("the node serves an older epoch of the cluster: trying another node", "position", pos.String())
	} else {
		l.log.Error("apply configuration", "position", pos.String(), "error", err)
	}
	return fmt.Errorf("apply configuration at %s: %w", pos, err)
}

// reportStatus sends Status frames every StatusEvery, as soon as the
// outbox fills, stops being full, drains or stops being empty, and within
// appliedStatusGap of applying configuration changes (the index a Status
// carries is what the fleet counts as applied: customers erase waits on
// it).
func (l *Link) reportStatus(ctx context.Context, w *frameWriter) error {
	tick := time.NewTicker(l.cfg.StatusEvery)
	defer tick.Stop()
	var last struct {
		full, empty bool
		index       uint64
		at          time.Time
	}
	send := func() error {
		st := l.ob.Stats()
		idx := l.cache.Position().Index
		last.full, last.empty, last.index, last.at = st.Full, st.Backlog == 0, idx, time.Now()
		return w.write(wire.MsgStatus, &wire.Status{
			Index:         idx,
			OutboxBacklog: st.Backlog,
			OutboxFull:    st.Full,
			NextSeq:       st.NextSeq,
		})
	}
	if err := send(); err != nil {
		return err
	}
	var soon <-chan time.Time // a Status owed for applied changes
	for {
		appended := l.ob.Appended()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := send(); err != nil {
				return err
			}
			continue
		case <-l.applied:
			if soon == nil {
				soon = time.After(max(0, appliedStatusGap-time.Since(last.at)))
			}
			continue
		case <-soon:
			soon = nil
			if l.cache.Position().Index != last.index {
				if err := send(); err != nil {
					return err
				}
			}
			continue
		case <-appended:
		case <-l.acked:
		}
		if st := l.ob.Stats(); st.Full != last.full || (st.Backlog == 0) != last.empty {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// appliedStatusGap is the least time between a Status and the next one
// sent for applied changes: a bulk import applies many pages a second.
const appliedStatusGap = 100 * time.Millisecond

// frameWriter serializes the writes of one stream.
type frameWriter struct {
	mu sync.Mutex
	s  *quic.Stream
}

func (w *frameWriter) write(t wire.MsgType, msg any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return wire.WriteFrame(w.s, t, msg)
}

// ackThrough acknowledges the outbox through seq. A cluster that holds
// more than this outbox ever assigned means the outbox was lost or
// replaced while the agent kept its identity: its new events would be
// dropped as duplicates of the ones the cluster holds, so the outbox first
// renumbers them after seq (Outbox.SkipPast). If it cannot, the error is
// logged and the acknowledgement clamped to what the outbox assigned.
func (l *Link) ackThrough(seq uint64) error {
	l.ackMu.Lock()
	defer l.ackMu.Unlock()
	st := l.ob.Stats()
	last := st.NextSeq - 1
	if seq > last || st.Unanchored {
		moved, err := l.ob.SkipPast(seq)
		switch {
		case err == nil && moved == 0 && seq <= last:
			// An unanchored outbox whose numbers the cluster does not
			// hold: they stand.
		case err != nil:
			l.log.Error("the cluster holds events of this agent beyond the outbox's last sequence (the outbox was lost or replaced), and its events could not be renumbered after them: they will be dropped as duplicates",
				"cluster_highest", seq, "outbox_last", last, "error", err)
			seq = last
		default:
			l.log.Warn("the cluster holds events of this agent beyond the outbox's last sequence (the outbox was lost or replaced): its waiting events were renumbered after them",
				"cluster_highest", seq, "outbox_last", last, "renumbered", moved)
			st = l.ob.Stats()
			l.ackedSeq.Store(st.Acked)
			select {
			case l.acked <- struct{}{}:
			default:
			}
		}
	}
	if seq <= st.Acked {
		return nil
	}
	if err := l.ob.Ack(seq); err != nil {
		return err
	}
	l.eventsAcked.Add(seq - st.Acked)
	l.ackedSeq.Store(seq)
	select {
	case l.acked <- struct{}{}:
	default:
	}
	return nil
}

// backoff doubles from min to max; next adds jitter.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return jitter(b.cur)
}

func (b *backoff) reset() { b.cur = 0 }

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether it slept through.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
