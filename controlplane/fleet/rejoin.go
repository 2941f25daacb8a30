package fleet

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Rejoin joins every address in addrs that is not an alive member's: the
// gossip addresses of registered servers and enrolled agents, read from
// Raft. memberlist does not call a member again once it declared it dead,
// so a member that restarted is only found this way (or by joining itself).
// Call it at start and periodically (every ~15 s).
//
// Addresses are tried in parallel. One that fails is skipped for a while
// (15 s, doubling up to 5 min) so that agents switched off do not make
// each call wait on connection timeouts. A call made while another runs
// returns at once. It returns how many addresses it joined, and the
// failures (expected for members that are down).
func (f *Fleet) Rejoin(addrs []string) (int, error) {
	if !f.rj.mu.TryLock() {
		return 0, nil
	}
	defer f.rj.mu.Unlock()
	if f.rj.failed == nil {
		f.rj.failed = map[string]backoff{}
	}
	live := f.view.liveAddrs()
	live[f.addr] = true
	now := f.now()
	wanted := map[string]bool{}
	var todo []string
	for _, a := range addrs {
		if a == "" || wanted[a] {
			continue
		}
		wanted[a] = true
		if live[normAddr(a)] {
			delete(f.rj.failed, a)
			continue
		}
		if b, ok := f.rj.failed[a]; ok && now.Before(b.next) {
			continue
		}
		todo = append(todo, a)
	}
	for a := range f.rj.failed {
		if !wanted[a] {
			delete(f.rj.failed, a)
		}
	}

	errs := make([]error, len(todo))
	sem := make(chan struct{}, rejoinParallel)
	var wg sync.WaitGroup
	for i, a := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := f.ml.Join([]string{a}); err != nil {
				errs[i] = fmt.Errorf("rejoin %s: %w", a, err)
			}
		}()
	}
	wg.Wait()

	joined := 0
	now = f.now()
	for i, a := range todo {
		if errs[i] == nil {
			joined++
			delete(f.rj.failed, a)
			continue
		}
		b := f.rj.failed[a]
		b.fails++
		wait := rejoinBackoffMax
		if b.fails <= 6 {
			wait = min(rejoinBackoffMin<<(b.fails-1), rejoinBackoffMax)
		}
		b.next = now.Add(wait)
		f.rj.failed[a] = b
	}
	if joined > 0 {
		f.log.Debug("rejoined members", "joined", joined, "tried", len(todo))
	}
	return joined, errors.Join(errs...)
}

const (
	rejoinParallel   = 16
	rejoinBackoffMin = 15 * time.Second
	rejoinBackoffMax = 5 * time.Minute
)

// rejoiner is Rejoin's state.
type rejoiner struct {
	mu     sync.Mutex // one Rejoin at a time; guards failed
	failed map[string]backoff
}

type backoff struct {
	fails int
	next  time.Time
}

// normAddr writes an IP host:port the way members' addresses are written
// (other forms are returned as they are).
func normAddr(a string) string {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return a
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	return net.JoinHostPort(ip.String(), p)
}
