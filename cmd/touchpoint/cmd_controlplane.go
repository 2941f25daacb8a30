package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/controlplane"
)

func logFlags(level string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: level, EnvVars: []string{"TOUCHPOINT_LOG_LEVEL"}, Usage: "log `LEVEL`: debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"TOUCHPOINT_LOG_FORMAT"}, Usage: "log `FORMAT`: text or json"},
	}
}

func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usageError(fmt.Errorf("--log-level %q: use debug, info, warn or error", c.String("log-level")))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.String("log-format")) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError(fmt.Errorf("--log-format %q: use text or json", c.String("log-format")))
}

func controlplaneCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "id", Usage: "this node's unique `ID` (required at first start; DIR remembers it)"},
		&cli.StringFlag{Name: "data-dir", Required: true, Usage: "`DIR` for the raft log, snapshots and state"},
		&cli.StringFlag{Name: "raft-addr", Usage: "`HOST:PORT` for raft traffic between nodes (required at first start; DIR remembers it)"},
		&cli.StringFlag{Name: "raft-advertise", Usage: "`HOST:PORT` other nodes dial for raft (default: --raft-addr)"},
		&cli.StringFlag{Name: "http-addr", Usage: "`HOST:PORT` for the admin API (required at first start; DIR remembers it)"},
		&cli.StringFlag{Name: "http-advertise", Usage: "`HOST:PORT` other nodes use for the admin API (default: --http-addr)"},
		&cli.BoolFlag{Name: "bootstrap", Usage: "start a new cluster with this node as its first member (ignored when DIR holds state)"},
		&cli.StringFlag{Name: "join", Usage: "join the cluster through any member's admin `URL` (ignored when DIR holds state)"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"TOUCHPOINT_TOKEN"}, Usage: "admin `TOKEN` that authorises --join"},
		&cli.StringFlag{Name: "quic-addr", Usage: "UDP `HOST:PORT` of the agent gateway (default: the raft host on a port the system picks, which the node keeps across restarts; give a fixed port in production all the same)"},
		&cli.StringFlag{Name: "quic-advertise", Usage: "`HOST:PORT` agents dial for the gateway (default: --quic-addr)"},
		&cli.StringFlag{Name: "gossip-addr", Usage: "`HOST:PORT` for gossip with agents and nodes (default: the raft host on a port the system picks)"},
		&cli.StringFlag{Name: "gossip-advertise", Usage: "`HOST:PORT` other members dial for gossip (default: --gossip-addr)"},
		&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate `FILE` for the admin API (HTTPS)"},
		&cli.StringFlag{Name: "tls-key", Usage: "PEM key `FILE` for the admin API"},
		&cli.DurationFlag{Name: "learn-propensities-every", Value: 15 * time.Minute,
			Usage: "while leader, learn offer propensities from the ledger every `INTERVAL` (as touchpoint propensities learn does; applied only when new outcomes changed them); 0 turns it off"},
		minFreeDiskFlag(controlplane.DefaultMinFreeDisk, "the cluster refuses writes (insufficient_storage)"),
	}
	return &cli.Command{
		Name:  "controlplane",
		Usage: "run a control-plane node",
		Description: "The first node of a new cluster starts with --bootstrap and writes an admin token to\n" +
			"DIR/admin.token. Other nodes start with --join http://HOST:PORT --token TOKEN. A node\n" +
			"remembers its --id, addresses and TLS files in DIR/node.json, so it restarts with\n" +
			"--data-dir DIR alone (a flag given again overrides what DIR remembers; --id cannot\n" +
			"change). A DIR without cluster state needs --bootstrap or --join.",
		Flags: append(flags, logFlags("info")...),
		Action: func(c *cli.Context) error {
			if c.Bool("bootstrap") && c.String("join") != "" {
				return usageError(errors.New("--bootstrap starts a new cluster and --join enters an existing one: give one"))
			}
			log, err := newLogger(c, e.stderr)
			if err != nil {
				return err
			}
			nf, err := rememberedFlags(c)
			if err != nil {
				return err
			}
			// On the daemon, --token may also come before the command.
			token := c.String("token")
			if token == "" {
				token = globalString(c, "token")
			}
			quicAddr, gossipAddr := nf.QUICAddr, nf.GossipAddr
			if host, _, err := net.SplitHostPort(nf.RaftAddr); err == nil {
				// Never a fixed default port: several nodes share a machine.
				if quicAddr == "" {
					quicAddr = net.JoinHostPort(host, "0")
				}
				if gossipAddr == "" {
					gossipAddr = net.JoinHostPort(host, "0")
				}
			}
			srv, err := controlplane.New(controlplane.Config{
				ID: nf.ID, DataDir: c.String("data-dir"),
				RaftAddr: nf.RaftAddr, RaftAdvertise: nf.RaftAdvertise,
				HTTPAddr: nf.HTTPAddr, HTTPAdvertise: nf.HTTPAdvertise,
				Bootstrap: c.Bool("bootstrap"), Join: c.String("join"), Token: token,
				TLSCert: nf.TLSCert, TLSKey: nf.TLSKey,
				QUICAddr: quicAddr, QUICAdvertise: nf.QUICAdvertise,
				GossipAddr: gossipAddr, GossipAdvertise: nf.GossipAdvertise,
				LearnPropensitiesEvery: c.Duration("learn-propensities-every"),
				MinFreeDisk:            c.Uint64("min-free-disk-mb") << 20,
				Version:                version, Logger: log,
			})
			if err != nil {
				return removedCode(err)
			}
			if nf.QUICAdvertise == "" && srv.QUICAddr() != "" {
				// The port the system picked: agents that learnt it find
				// the node there after a restart.
				nf.QUICAddr = srv.QUICAddr()
			}
			if err := nf.save(c.String("data-dir")); err != nil {
				_ = srv.Close()
				return err
			}
			log.Info("control plane node started", "id", nf.ID, "http", srv.URL(), "raft", srv.RaftAddr(), "quic", srv.QUICAddr())
			return removedCode(srv.Run(c.Context))
		},
	}
}

// minFreeDiskFlag is --min-free-disk-mb, the free space a daemon keeps
// under its data directory (protocol/diskspace).
func minFreeDiskFlag(def uint64, below string) cli.Flag {
	return &cli.Uint64Flag{Name: "min-free-disk-mb", Value: def >> 20,
		Usage: "keep `MB` free on the data directory's file system: below it " + below + " rather than fill the disk, which would crash badger; 0 turns the check off"}
}

// removedCode gives a node's error that it was removed from the cluster
// its stable code, removed.
func removedCode(err error) error {
	if errors.Is(err, controlplane.ErrRemoved) {
		return &cliError{code: codeRemoved, err: err}
	}
	return err
}

// globalString reads a flag from the root context.
func globalString(c *cli.Context, name string) string {
	for _, l := range c.Lineage() {
		if v := l.String(name); v != "" {
			return v
		}
	}
	return ""
}

// nodeFile, in a node's data directory, remembers the flags it was started
// with: a restart needs --data-dir alone.
const nodeFile = "node.json"

// nodeFlags are the flags node.json remembers.
type nodeFlags struct {
	ID              string `json:"id"`
	RaftAddr        string `json:"raftAddr"`
	RaftAdvertise   string `json:"raftAdvertise,omitempty"`
	HTTPAddr        string `json:"httpAddr"`
	HTTPAdvertise   string `json:"httpAdvertise,omitempty"`
	QUICAddr        string `json:"quicAddr,omitempty"`
	QUICAdvertise   string `json:"quicAdvertise,omitempty"`
	GossipAddr      string `json:"gossipAddr,omitempty"`
	GossipAdvertise string `json:"gossipAdvertise,omitempty"`
	TLSCert         string `json:"tlsCert,omitempty"`
	TLSKey          string `json:"tlsKey,omitempty"`
}

// rememberedFlags is the node's flags: each given on the command line, else
// the one DIR/node.json remembers. --id may not differ from the one
// remembered (the raft state is that node's), and --id, --raft-addr and
// --http-addr are needed at the first start.
func rememberedFlags(c *cli.Context) (nodeFlags, error) {
	dir := c.String("data-dir")
	var nf nodeFlags
	b, err := os.ReadFile(filepath.Join(dir, nodeFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nf, err
	default:
		if err := json.Unmarshal(b, &nf); err != nil {
			return nf, &cliError{code: codeInvalidInput, err: fmt.Errorf("%s: %v: remove it and give the node's flags again", filepath.Join(dir, nodeFile), err)}
		}
	}
	if c.IsSet("id") && nf.ID != "" && c.String("id") != nf.ID {
		return nf, usageError(fmt.Errorf("--id %s: %s belongs to node %s (its raft state is that node's); start it with --id %s, or give another --data-dir", c.String("id"), dir, nf.ID, nf.ID))
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"id", &nf.ID}, {"raft-addr", &nf.RaftAddr}, {"raft-advertise", &nf.RaftAdvertise},
		{"http-addr", &nf.HTTPAddr}, {"http-advertise", &nf.HTTPAdvertise},
		{"quic-addr", &nf.QUICAddr}, {"quic-advertise", &nf.QUICAdvertise},
		{"gossip-addr", &nf.GossipAddr}, {"gossip-advertise", &nf.GossipAdvertise},
		{"tls-cert", &nf.TLSCert}, {"tls-key", &nf.TLSKey},
	} {
		if c.IsSet(f.name) {
			*f.dst = c.String(f.name)
		}
	}
	for _, f := range []*string{&nf.TLSCert, &nf.TLSKey} {
		if *f != "" {
			abs, err := filepath.Abs(*f) // a restart may run from another directory
			if err != nil {
				return nf, err
			}
			*f = abs
		}
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--id", nf.ID}, {"--raft-addr", nf.RaftAddr}, {"--http-addr", nf.HTTPAddr}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nf, usageError(fmt.Errorf("required flags %s not given (%s holds no %s to take them from: the node's first start needs them)", strings.Join(missing, ", "), dir, nodeFile))
	}
	return nf, nil
}

// save writes node.json into dir (atomically: a temporary file, renamed).
func (nf nodeFlags) save(dir string) error {
	return writeRemembered(filepath.Join(dir, nodeFile), nf, "remember the node's flags")
}

// writeRemembered writes v as JSON to path, atomically (a temporary file,
// renamed); what names the step in the error.
func writeRemembered(path string, v any, what string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
