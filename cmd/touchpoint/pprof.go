package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/urfave/cli/v2"
)

// pprofFlag serves Go's profiler for whatever command runs (the demo, a
// control-plane node, an agent), so a slow path can be looked at where it
// is slow: TOUCHPOINT_PPROF_ADDR=127.0.0.1:6060 touchpoint demo, then
// go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=15.
// Only a loopback address is taken: the profiles show the process's
// memory and goroutines to whoever asks.
func pprofFlag() cli.Flag {
	return &cli.StringFlag{Name: "pprof-addr", EnvVars: []string{"TOUCHPOINT_PPROF_ADDR"},
		Usage: "serve Go's profiler (/debug/pprof/) on this loopback `ADDRESS` while the command runs"}
}

// startPprof listens on addr (a loopback host:port) and serves the
// profiler's handlers, on a mux of their own, for the rest of the process.
func startPprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError(fmt.Errorf("--pprof-addr %q: %w", addr, err))
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError(fmt.Errorf("--pprof-addr %q: the profiler is served on a loopback address only", addr))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
