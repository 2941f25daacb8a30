package main

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// udpProxy relays UDP datagrams between clients and one upstream address,
// with a socket per client flow (as a NAT does). Cut drops every datagram
// both ways until Heal: a link cut that neither end can tell from a dead
// network. Test double of the network between an agent and a node.
type udpProxy struct {
	ln       *net.UDPConn
	upstream *net.UDPAddr
	cut      atomic.Bool

	mu    sync.Mutex
	flows map[string]*net.UDPConn
	done  chan struct{}
}

func newUDPProxy(t *testing.T, upstream string) *udpProxy {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", upstream)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{ln: ln, upstream: ua, flows: map[string]*net.UDPConn{}, done: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *udpProxy) Addr() string { return p.ln.LocalAddr().String() }
func (p *udpProxy) Cut()         { p.cut.Store(true) }
func (p *udpProxy) Heal()        { p.cut.Store(false) }

func (p *udpProxy) close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.flows {
		c.Close()
	}
}

func (p *udpProxy) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.ln.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if p.cut.Load() {
			continue
		}
		up := p.flow(from)
		if up == nil {
			continue
		}
		_, _ = up.Write(buf[:n])
	}
}

// flow returns the upstream socket of a client, starting its return path.
func (p *udpProxy) flow(client *net.UDPAddr) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.flows[client.String()]; ok {
		return c
	}
	c, err := net.DialUDP("udp", nil, p.upstream)
	if err != nil {
		return nil
	}
	p.flows[client.String()] = c
	go func() {
		buf := make([]byte, 64<<10)
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			n, err := c.Read(buf)
			if err != nil {
				select {
				case <-p.done:
					return
				default:
				}
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			if p.cut.Load() {
				continue
			}
			_, _ = p.ln.WriteToUDP(buf[:n], client)
		}
	}()
	return c
}
