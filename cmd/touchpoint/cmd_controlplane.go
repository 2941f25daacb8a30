package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/controlplane"
)

func logFlags(level string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: level, EnvVars: []string{"TOUCHPOINT_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"TOUCHPOINT_LOG_FORMAT"}, Usage: "text or json"},
	}
}

func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.String("log-format")) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", c.String("log-format"))
}

func controlplaneCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "id", Required: true, Usage: "this node's unique `ID`"},
		&cli.StringFlag{Name: "data-dir", Required: true, Usage: "`DIR` for the raft log, snapshots and state"},
		&cli.StringFlag{Name: "raft-addr", Required: true, Usage: "`HOST:PORT` for raft traffic between nodes"},
		&cli.StringFlag{Name: "raft-advertise", Usage: "`HOST:PORT` other nodes dial for raft (default: --raft-addr)"},
		&cli.StringFlag{Name: "http-addr", Required: true, Usage: "`HOST:PORT` for the admin API"},
		&cli.StringFlag{Name: "http-advertise", Usage: "`HOST:PORT` other nodes use for the admin API (default: --http-addr)"},
		&cli.BoolFlag{Name: "bootstrap", Usage: "start a new cluster with this node as its first member (ignored when DIR holds state)"},
		&cli.StringFlag{Name: "join", Usage: "join the cluster through any member's admin `URL` (ignored when DIR holds state)"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"TOUCHPOINT_TOKEN"}, Usage: "admin `TOKEN` that authorises --join"},
		&cli.StringFlag{Name: "quic-addr", Usage: "UDP `HOST:PORT` of the agent gateway (default: the raft host on a port the system picks; give a fixed port in production so agents find the node after a restart)"},
		&cli.StringFlag{Name: "quic-advertise", Usage: "`HOST:PORT` agents dial for the gateway (default: --quic-addr)"},
		&cli.StringFlag{Name: "gossip-addr", Usage: "`HOST:PORT` for gossip with agents and nodes (default: the raft host on a port the system picks)"},
		&cli.StringFlag{Name: "gossip-advertise", Usage: "`HOST:PORT` other members dial for gossip (default: --gossip-addr)"},
		&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate `FILE` for the admin API (HTTPS)"},
		&cli.StringFlag{Name: "tls-key", Usage: "PEM key `FILE` for the admin API"},
		&cli.DurationFlag{Name: "learn-propensities-every", Value: 15 * time.Minute,
			Usage: "while leader, learn offer propensities from the ledger this often (as `propensities learn`; applied only when new outcomes changed them); 0 turns it off"},
	}
	return &cli.Command{
		Name:  "controlplane",
		Usage: "run a control-plane node",
		Description: "The first node of a new cluster starts with --bootstrap and writes an admin token to\n" +
			"DIR/admin.token. Other nodes start with --join http://HOST:PORT --token TOKEN. A node\n" +
			"restarts from DIR with the same --id and addresses and neither flag; a DIR without\n" +
			"cluster state needs one of them.",
		Flags: append(flags, logFlags("info")...),
		Action: func(c *cli.Context) error {
			if c.Bool("bootstrap") && c.String("join") != "" {
				return fmt.Errorf("--bootstrap starts a new cluster and --join enters an existing one: give one")
			}
			log, err := newLogger(c, e.stderr)
			if err != nil {
				return err
			}
			// On the daemon, --token may also come before the command.
			token := c.String("token")
			if token == "" {
				token = globalString(c, "token")
			}
			quicAddr, gossipAddr := c.String("quic-addr"), c.String("gossip-addr")
			if host, _, err := net.SplitHostPort(c.String("raft-addr")); err == nil {
				// Never a fixed default port: several nodes share a machine.
				if quicAddr == "" {
					quicAddr = net.JoinHostPort(host, "0")
				}
				if gossipAddr == "" {
					gossipAddr = net.JoinHostPort(host, "0")
				}
			}
			srv, err := controlplane.New(controlplane.Config{
				ID: c.String("id"), DataDir: c.String("data-dir"),
				RaftAddr: c.String("raft-addr"), RaftAdvertise: c.String("raft-advertise"),
				HTTPAddr: c.String("http-addr"), HTTPAdvertise: c.String("http-advertise"),
				Bootstrap: c.Bool("bootstrap"), Join: c.String("join"), Token: token,
				TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"),
				QUICAddr: quicAddr, QUICAdvertise: c.String("quic-advertise"),
				GossipAddr: gossipAddr, GossipAdvertise: c.String("gossip-advertise"),
				LearnPropensitiesEvery: c.Duration("learn-propensities-every"),
				Version:                version, Logger: log,
			})
			if err != nil {
				return err
			}
			log.Info("control plane node started", "id", c.String("id"), "http", srv.URL(), "raft", srv.RaftAddr(), "quic", srv.QUICAddr())
			return srv.Run(c.Context)
		},
	}
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
