package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func agentCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "id", Usage: "this agent's unique `ID` in the fleet (required at first start; DIR remembers it)"},
		&cli.StringFlag{Name: "data-dir", Required: true, Usage: "`DIR` for the identity, the configuration cache and the outbox"},
		&cli.StringFlag{Name: "site", Usage: "the `SITE` the agent serves, a store or a call centre (required at first start; DIR remembers it)"},
		&cli.StringFlag{Name: "channel", Usage: "`CHANNEL` served: kiosk, ivr or terminal (required at first start; DIR remembers it)"},
		&cli.StringFlag{Name: "http-addr", Usage: "`HOST:PORT` for the agent API (DIR remembers it; port 0: the port the system picks, kept)", DefaultText: "127.0.0.1:7480"},
		&cli.StringSliceFlag{Name: "controlplane", Usage: "control-plane QUIC `HOST:PORT`, comma-separated or repeated (servers the cluster announces are remembered)"},
		&cli.StringFlag{Name: "join-token", EnvVars: []string{"TOUCHPOINT_JOIN_TOKEN"}, Usage: "join `TOKEN` from `touchpoint fleet token`, needed once to enroll (ignored once enrolled)"},
		&cli.StringFlag{Name: "gossip-addr", Usage: "gossip bind `HOST:PORT` (default: the --http-addr host, a free port)"},
		&cli.StringSliceFlag{Name: "gossip-join", Usage: "gossip members to join, `HOST:PORT`, comma-separated or repeated (the servers' are joined anyway)"},
		&cli.StringFlag{Name: "api-key", EnvVars: []string{"TOUCHPOINT_AGENT_API_KEY"}, Usage: "require this `KEY` on API calls (Authorization: Bearer KEY or X-API-Key); probes and /metrics stay open"},
		&cli.Int64Flag{Name: "outbox-max-bytes", Usage: "bound on unsent contact events in `BYTES`", DefaultText: "256 MiB"},
		&cli.StringFlag{Name: "region", Usage: "`REGION` whose customer profiles the agent prefetches and keeps current (others are fetched on demand)"},
		&cli.StringFlag{Name: "timezone", Value: protocol.DefaultTimezone, Usage: "IANA time `ZONE` of the rules' now (now.Hour() and the like), whatever the machine's zone"},
		&cli.IntFlag{Name: "unregioned-max", Usage: "prefetch customers without a region only when there are at most `N`", DefaultText: "50,000"},
		&cli.IntFlag{Name: "cache-memtable-mb", Usage: "size of each of the cache's badger memtables, `MB`", DefaultText: "16"},
		&cli.IntFlag{Name: "cache-memtables", Usage: "number of the cache's memtables, `N`", DefaultText: "2"},
		&cli.IntFlag{Name: "cache-block-cache-mb", Usage: "the cache's block cache, `MB`", DefaultText: "0, off: tables are uncompressed and memory-mapped; 16 when the cache is encrypted"},
		&cli.IntFlag{Name: "cache-index-cache-mb", Usage: "the cache's index and bloom-filter cache, `MB`", DefaultText: "0: indexes and filters stay in memory, a few MB per million profiles; 8 when the cache is encrypted"},
		minFreeDiskFlag(agent.DefaultMinFreeDisk, "contacts are refused (insufficient_storage) and the cache takes no changes"),
		&cli.StringFlag{Name: "encryption-key-file", Usage: "`FILE` holding the key that encrypts the cache and outbox at rest (16, 24 or 32 bytes, raw or hex)"},
	}
	return &cli.Command{
		Name:  "agent",
		Usage: "run an edge agent",
		Description: "A new agent enrolls once with --id, --site, --channel and --join-token (or\n" +
			"TOUCHPOINT_JOIN_TOKEN) and keeps its identity in DIR/identity, its site and channel in\n" +
			"DIR/identity/role.json and its --http-addr in DIR/agent.json: it restarts with --data-dir DIR\n" +
			"alone (--controlplane too if the cluster announces no servers). --id, --site and --channel\n" +
			"cannot change; --http-addr given again replaces the one remembered. It serves its API from\n" +
			"its own disk, with or without the control plane.",
		Flags: append(flags, logFlags("info")...),
		Action: func(c *cli.Context) error {
			log, err := newLogger(c, e.stderr)
			if err != nil {
				return err
			}
			af, err := rememberedAgentFlags(c)
			if err != nil {
				return err
			}
			cfg := agent.Config{
				ID: af.ID, DataDir: c.String("data-dir"),
				Site: af.Site, Channel: af.Channel,
				HTTPAddr:     af.HTTPAddr,
				ControlPlane: splitList(c.StringSlice("controlplane")),
				JoinToken:    strings.TrimSpace(c.String("join-token")),
				GossipAddr:   c.String("gossip-addr"),
				GossipJoin:   splitList(c.StringSlice("gossip-join")),
				APIKey:       c.String("api-key"),
				// A negative bound is refused by agent.New.
				OutboxMaxBytes:    c.Int64("outbox-max-bytes"),
				MinFreeDisk:       c.Uint64("min-free-disk-mb") << 20,
				EncryptionKeyFile: c.String("encryption-key-file"),
				Region:            c.String("region"), UnregionedMax: c.Int("unregioned-max"), Timezone: c.String("timezone"),
				Version: version, Logger: log,
			}
			cfg.CacheMemory.MemTableMB, cfg.CacheMemory.NumMemtables = c.Int("cache-memtable-mb"), c.Int("cache-memtables")
			cfg.CacheMemory.BlockCacheMB, cfg.CacheMemory.IndexCacheMB = c.Int("cache-block-cache-mb"), c.Int("cache-index-cache-mb")
			a, err := agent.New(cfg)
			if err != nil {
				return agentNewError(err)
			}
			if err := af.save(c.String("data-dir"), a.Addr()); err != nil {
				_ = a.Close()
				return err
			}
			// Run logs the API's address, and returns once SIGINT or SIGTERM cancels the context and the
			// agent has shut down in order (API, link, gossip, stores).
			if err := a.Run(c.Context); err != nil {
				return fmt.Errorf("agent %s: %w", cfg.ID, err)
			}
			return nil
		},
	}
}

// splitList flattens comma-separated values and drops empty ones.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// agentNewError gives agent.New's errors their codes: a flag value it
// refuses is a usage error, named by its flag; a data directory another
// agent process holds is in_use.
func agentNewError(err error) error {
	var ce *agent.ConfigError
	switch {
	case errors.As(err, &ce):
		return usageError(fmt.Errorf("--%s %q: %w", ce.Setting, ce.Value, ce.Err))
	case errors.Is(err, agent.ErrDataDirInUse):
		return &cliError{code: string(api.CodeInUse), err: err}
	}
	return err
}

// agentFile, in an agent's data directory, remembers the agent's
// --http-addr; its id, site and channel are its identity's
// (identity/agent.crt and identity/role.json, written at enrollment).
const agentFile = "agent.json"

// identityDir is agent.New's identity directory under --data-dir.
const identityDir = "identity"

// agentFlags are the agent's flags a restart may leave out.
type agentFlags struct {
	ID       string `json:"-"`
	Site     string `json:"-"`
	Channel  string `json:"-"`
	HTTPAddr string `json:"httpAddr"`
}

// rememberedAgentFlags is the agent's --id, --site, --channel and
// --http-addr: each given on the command line, else the one DIR remembers.
// The id, site and channel may not differ from those the agent enrolled
// with, and are needed at the first start; --http-addr given again
// replaces the one remembered (default 127.0.0.1:7480).
func rememberedAgentFlags(c *cli.Context) (agentFlags, error) {
	dir := c.String("data-dir")
	var af agentFlags
	b, err := os.ReadFile(filepath.Join(dir, agentFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return af, err
	default:
		if err := json.Unmarshal(b, &af); err != nil {
			return af, &cliError{code: codeInvalidInput, err: fmt.Errorf("%s: %v: remove it and give --http-addr again", filepath.Join(dir, agentFile), err)}
		}
	}
	en, enrolled, err := link.ReadEnrollment(filepath.Join(dir, identityDir))
	if err != nil {
		return af, err
	}
	if enrolled {
		if id := c.String("id"); c.IsSet("id") && id != en.ID {
			return af, usageError(fmt.Errorf("--id %s: %s belongs to agent %s (its identity and outbox are that agent's): start it with --id %s or without --id, or give another --data-dir", id, dir, en.ID, en.ID))
		}
		if en.Site != "" {
			for _, f := range []struct{ name, was string }{{"site", en.Site}, {"channel", en.Channel}} {
				if v := c.String(f.name); c.IsSet(f.name) && v != f.was {
					return af, usageError(fmt.Errorf("--%s %s: agent %s enrolled as site %q, channel %q, and keeps them (the fleet registry names them, the ledger records them with every contact): start it with --site %s --channel %s or without them, or enroll the box under a new agent id with a new data directory",
						f.name, v, en.ID, en.Site, en.Channel, en.Site, en.Channel))
				}
			}
		}
		af.ID, af.Site, af.Channel = en.ID, en.Site, en.Channel
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"id", &af.ID}, {"site", &af.Site}, {"channel", &af.Channel}, {"http-addr", &af.HTTPAddr}} {
		if c.IsSet(f.name) {
			*f.dst = c.String(f.name)
		}
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--id", af.ID}, {"--site", af.Site}, {"--channel", af.Channel}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	switch {
	case len(missing) == 0:
	case !enrolled:
		return af, usageError(fmt.Errorf("required flags %s not given (%s holds no enrolled agent to take them from: the agent's first start, with --join-token, needs them)", strings.Join(missing, ", "), dir))
	default:
		return af, usageError(fmt.Errorf("required flags %s not given (agent %s in %s enrolled before its site and channel were recorded in %s: give them once, and it remembers them)", strings.Join(missing, ", "), en.ID, dir, filepath.Join(dir, identityDir, "role.json")))
	}
	if af.HTTPAddr == "" {
		af.HTTPAddr = "127.0.0.1:7480"
	}
	return af, nil
}

// save writes agent.json into dir (atomically: a temporary file, renamed).
// A port 0 is remembered as the port bound, so the API stays where its
// clients found it.
func (af agentFlags) save(dir, bound string) error {
	if host, port, err := net.SplitHostPort(af.HTTPAddr); err == nil && port == "0" {
		if _, p, err := net.SplitHostPort(bound); err == nil {
			af.HTTPAddr = net.JoinHostPort(host, p)
		}
	}
	return writeRemembered(filepath.Join(dir, agentFile), af, "remember the agent's flags")
}
