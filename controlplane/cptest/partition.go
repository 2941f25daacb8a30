package cptest

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// PartitionLayer is a test double around raft's stream layer that can cut a
// node off from its peers: while partitioned it refuses to dial, drops what
// it accepts and has closed every connection it had. The admin API is not
// affected (it is a separate listener).
type PartitionLayer struct {
	inner raft.StreamLayer

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// NewPartitionLayer wraps inner.
func NewPartitionLayer(inner raft.StreamLayer) *PartitionLayer {
	return &PartitionLayer{inner: inner, conns: map[net.Conn]struct{}{}}
}

// Partition cuts the node off.
func (p *PartitionLayer) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.(*trackedConn).Conn.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// Heal reconnects the node.
func (p *PartitionLayer) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *PartitionLayer) track(c net.Conn) (net.Conn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		_ = c.Close()
		return nil, false
	}
	tc := &trackedConn{Conn: c, p: p}
	p.conns[tc] = struct{}{}
	return tc, true
}

// Accept implements net.Listener.
func (p *PartitionLayer) Accept() (net.Conn, error) {
	for {
		c, err := p.inner.Accept()
		if err != nil {
			return nil, err
		}
		if tc, ok := p.track(c); ok {
			return tc, nil
		}
	}
}

// Close implements net.Listener.
func (p *PartitionLayer) Close() error { return p.inner.Close() }

// Addr implements net.Listener.
func (p *PartitionLayer) Addr() net.Addr { return p.inner.Addr() }

// Dial implements raft.StreamLayer.
func (p *PartitionLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	if cut {
		return nil, errors.New("partitioned")
	}
	c, err := p.inner.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := p.track(c); ok {
		return tc, nil
	}
	return nil, errors.New("partitioned")
}

type trackedConn struct {
	net.Conn
	p *PartitionLayer
}

func (c *trackedConn) Close() error {
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
	return c.Conn.Close()
}
