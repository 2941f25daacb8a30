package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/protocol"
)

func agentCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "id", Required: true, Usage: "this agent's unique `ID` in the fleet"},
		&cli.StringFlag{Name: "data-dir", Required: true, Usage: "`DIR` for the identity, the configuration cache and the outbox"},
		&cli.StringFlag{Name: "site", Required: true, Usage: "the `SITE` the agent serves (a store, a call centre)"},
		&cli.StringFlag{Name: "channel", Required: true, Usage: "`CHANNEL` served: kiosk, ivr or terminal"},
		&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:7480", Usage: "`HOST:PORT` for the agent API"},
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
		Description: "A new agent enrolls once with --join-token (or TOUCHPOINT_JOIN_TOKEN) and keeps its identity in\n" +
			"DIR/identity; it restarts from DIR without the token. It serves its API from its own disk,\n" +
			"with or without the control plane.",
		Flags: append(flags, logFlags("info")...),
		Action: func(c *cli.Context) error {
			log, err := newLogger(c, e.stderr)
			if err != nil {
				return err
			}
			cfg := agent.Config{
				ID: c.String("id"), DataDir: c.String("data-dir"),
				Site: c.String("site"), Channel: c.String("channel"),
				HTTPAddr:     c.String("http-addr"),
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
				return err
			}
			// Run logs the API's address, and returns once SIGINT or SIGTERM cancels the context and the
			// agent has shut down in order (API, link, gossip, stores).
			if err := a.Run(c.Context); err != nil {
				return fmt.Errorf("agent %s: %w", c.String("id"), err)
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
