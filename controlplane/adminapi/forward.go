package adminapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// forwardWait is how long a follower waits for a leader to appear (an
// election in progress) before answering no_leader.
const forwardWait = 10 * time.Second

// leaderHTTP returns the leader's admin address from the node registry.
func (s *Server) leaderHTTP() (string, error) {
	id, _ := s.store.Leader()
	if id == "" {
		return "", errNoLeaderYet
	}
	if id == s.store.ID() {
		return "", errIsSelf
	}
	nodes, err := s.state.Nodes()
	if err != nil {
		return "", err
	}
	n, ok := nodes[id]
	if !ok || n.HTTPAddr == "" {
		return "", fmt.Errorf("leader %s has not registered its admin address yet: %w", id, errNoLeaderYet)
	}
	return n.HTTPAddr, nil
}

var (
	errNoLeaderYet = errors.New("no leader yet")
	errIsSelf      = errors.New("this node is the leader")
)

// forward relays a request to the leader and its answer back. Writes carry
// a request id (set here if the client sent none) so that retrying after a
// lost connection cannot apply them twice.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body []byte, timeout time.Duration) {
	s.forwardFrom(w, r, bytes.NewReader(body), timeout)
}

// forwardFrom is forward with a body that can be re-read from the start
// (a spooled snapshot upload is forwarded from its file). timeout bounds
// the leader's work, once reached.
func (s *Server) forwardFrom(w http.ResponseWriter, r *http.Request, body io.ReadSeeker, timeout time.Duration) {
	if r.Header.Get(api.HeaderForwarded) != "" {
		// Never forward twice: the sender thought we were leader and we
		// are not; let the client retry once the cluster settles.
		api.WriteError(w, api.Errorf(api.CodeNoLeader, "node %s is not the leader, yet the request says a node forwarded it here (%s: %s): leadership is changing, retry shortly (a client must not send that header)",
			s.store.ID(), api.HeaderForwarded, clip(r.Header.Get(api.HeaderForwarded))))
		return
	}
	if r.Method != http.MethodGet && r.Header.Get(api.HeaderRequestID) == "" {
		r.Header.Set(api.HeaderRequestID, api.NewRequestID())
	}
	ctx, cancel := context.WithTimeout(r.Context(), forwardWait+timeout)
	defer cancel()
	deadline := time.Now().Add(forwardWait)
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				api.WriteError(w, api.Errorf(api.CodeTimeout, "forward to leader: %v", ctx.Err()))
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		addr, err := s.leaderHTTP()
		if errors.Is(err, errIsSelf) {
			// We became leader while waiting: serve it ourselves.
			if _, err := body.Seek(0, io.SeekStart); err != nil {
				api.WriteError(w, api.Errorf(api.CodeInternal, "%v", err))
				return
			}
			c := r.Clone(r.Context())
			c.Body = io.NopCloser(body)
			s.mux.ServeHTTP(w, c)
			return
		}
		if err != nil {
			lastErr = err
			continue
		}
		resp, err := s.send(ctx, addr, r, body)
		if err != nil {
			lastErr = err
			s.log.Debug("forward to leader failed", "leader", addr, "error", err)
			continue
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			// The leader we knew stepped down; look again.
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			lastErr = fmt.Errorf("leader %s: %s", addr, bytes.TrimSpace(b))
			continue
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", api.HeaderIndex, "Content-Length", "Content-Disposition"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	if errors.Is(lastErr, errNoLeaderYet) {
		api.WriteError(w, api.Errorf(api.CodeNoLeader, "node %s has had no leader for %v (%v): electing one needs a majority of the voters running and reaching each other; touchpoint cluster status shows which nodes answer, and reads with ?stale=true (touchpoint get --stale) are served without a leader",
			s.store.ID(), forwardWait, lastErr))
		return
	}
	api.WriteError(w, api.Errorf(api.CodeNoLeader, "no leader reachable within %v: %v", forwardWait, lastErr))
}

func (s *Server) send(ctx context.Context, addr string, r *http.Request, body io.ReadSeeker) (*http.Response, error) {
	u := s.cfg.Scheme + "://" + addr + r.URL.RequestURI()
	size, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, io.NopCloser(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	for _, h := range []string{"Authorization", "Content-Type", api.HeaderRequestID} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set(api.HeaderForwarded, s.store.ID())
	return s.fwd.Do(req)
}
