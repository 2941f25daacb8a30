package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

func clusterCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "inspect and manage the control-plane cluster",
		Subcommands: []*cli.Command{
			{
				Name:  "status",
				Usage: "show the leader and every node's state and last log index",
				Flags: []cli.Flag{outputFlag()},
				Action: adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) (*api.ClusterStatus, error) {
						return client(c).ClusterStatus(c.Context)
					},
					e.printClusterStatus),
			},
			{
				Name:      "remove",
				Usage:     "take a (dead) node out of the cluster configuration",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: adminAction(e, 1, 1, "ID",
					func(c *cli.Context, a []string) (*api.WriteResult, error) { return client(c).Remove(c.Context, a[0]) },
					func(res *api.WriteResult, a []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgRemoved, a[0], res.Index))
						return nil
					}),
			},
			{
				Name:  "snapshot",
				Usage: "save or restore the cluster's state",
				Subcommands: []*cli.Command{
					{
						Name:      "save",
						Usage:     "write a consistent snapshot of the cluster's state to FILE",
						ArgsUsage: "FILE",
						Flags:     []cli.Flag{outputFlag()},
						Action: adminAction(e, 1, 1, "FILE",
							func(c *cli.Context, a []string) (savedSnapshot, error) {
								n, err := saveSnapshot(c, a[0])
								return savedSnapshot{File: a[0], Bytes: n}, err
							},
							func(s savedSnapshot, _ []string) error {
								fmt.Fprintln(e.stdout, e.msg(msgSnapshotSaved, s.File, s.Bytes))
								return nil
							}),
					},
					{
						Name:      "restore",
						Usage:     "replace the cluster's state with a saved snapshot",
						ArgsUsage: "FILE",
						Flags:     []cli.Flag{outputFlag()},
						Action: adminAction(e, 1, 1, "FILE",
							func(c *cli.Context, a []string) (*api.WriteResult, error) {
								f, err := os.Open(a[0])
								if err != nil {
									return nil, fmt.Errorf("read snapshot: %w", err)
								}
								defer f.Close()
								return client(c).SnapshotRestore(c.Context, f)
							},
							func(res *api.WriteResult, a []string) error {
								fmt.Fprintln(e.stdout, e.msg(msgSnapshotRestored, a[0], res.Index))
								return nil
							}),
					},
				},
			},
		},
	}
}

// savedSnapshot is what `cluster snapshot save -o json` prints.
type savedSnapshot struct {
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
}

// saveSnapshot streams the snapshot into FILE.tmp and renames it into place
// only once it is complete and synced.
func saveSnapshot(c *cli.Context, file string) (int64, error) {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", tmp, err)
	}
	cl := client(c)
	if err := cl.SnapshotSave(c.Context, f); err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("sync %s: %w", tmp, err)
	}
	st, _ := f.Stat()
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return 0, fmt.Errorf("rename %s: %w", filepath.Base(tmp), err)
	}
	return st.Size(), nil
}

func tokensCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "tokens",
		Usage: "manage admin API bearer tokens",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "mint a token with a role (admin, operator, analyst, viewer)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "role", Required: true, Usage: "`ROLE`: " + strings.Join(api.Roles, ", ")},
					&cli.StringFlag{Name: "name", Usage: "a `LABEL` for the token (who or what uses it)"},
					outputFlag(),
				},
				Action: adminAction(e, 0, 0, "--role ROLE",
					func(c *cli.Context, _ []string) (*api.TokenResult, error) {
						return client(c).CreateToken(c.Context, api.TokenRequest{Role: c.String("role"), Name: c.String("name")})
					},
					func(t *api.TokenResult, _ []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgTokenCreated, t.Role, t.ID))
						fmt.Fprintln(e.stdout, e.msg(msgTokenShownOnce))
						fmt.Fprintln(e.stdout, t.Token)
						return nil
					}),
			},
			{
				Name:  "ls",
				Usage: "list tokens (ids and roles; secrets are never stored)",
				Flags: []cli.Flag{outputFlag()},
				Action: adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) ([]api.TokenInfo, error) { return client(c).Tokens(c.Context) },
					func(ts []api.TokenInfo, _ []string) error {
						tw := e.table()
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrRole), e.msg(msgHdrName), e.msg(msgHdrCreated))
						for _, t := range ts {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.Created.Format(time.RFC3339))
						}
						return tw.Flush()
					}),
			},
			{
				Name:      "revoke",
				Usage:     "revoke an admin API token by id: every node refuses its secret from then on",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: adminAction(e, 1, 1, "ID",
					func(c *cli.Context, a []string) (*api.WriteResult, error) {
						return client(c).RevokeToken(c.Context, a[0])
					},
					func(r *api.WriteResult, a []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgTokenRevoked, a[0], r.Index))
						return nil
					}),
			},
		},
	}
}

// printClusterStatus shows the leader and a table of nodes; reachability
// problems follow the table so it stays narrow.
func (e *env) printClusterStatus(st *api.ClusterStatus, _ []string) error {
	// Right after a leader dies the others still name it until their
	// heartbeat timeout.
	silent := slices.ContainsFunc(st.Nodes, func(n api.ClusterNode) bool {
		return n.ID == st.Leader && n.State == api.StateUnreachable
	})
	switch {
	case st.Leader == "":
		fmt.Fprintln(e.stdout, e.noLeader(st.Nodes))
	case silent:
		fmt.Fprintln(e.stdout, e.msg(msgLeaderSilent, st.Leader))
	default:
		fmt.Fprintln(e.stdout, e.msg(msgLeader, st.Leader))
	}
	// By id, whatever order the Raft configuration lists them in.
	nodes := slices.SortedFunc(slices.Values(st.Nodes), func(a, b api.ClusterNode) int { return strings.Compare(a.ID, b.ID) })
	tw := e.table()
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrAddress), e.msg(msgHdrState), e.msg(msgHdrLastIndex), e.msg(msgHdrDiskFree))
	var problems []string
	for _, n := range nodes {
		last, disk := fmt.Sprint(n.LastIndex), "-"
		if n.State == api.StateUnreachable {
			last = "-"
		}
		if d := n.Disk; d != nil {
			disk = diskspace.Bytes(d.FreeBytes)
			if d.Low {
				disk += " (" + e.msg(msgDiskLowMark) + ")"
				problems = append(problems, e.msg(msgNodeDiskLow, n.ID, diskspace.Bytes(d.FreeBytes), diskspace.Bytes(d.FloorBytes)))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.ID, n.Address, n.State, last, disk)
		switch {
		case n.Error != "" && n.HTTPAddr != "":
			// The address column is the Raft address; the node that did
			// not answer is its admin API.
			problems = append(problems, e.msg(msgNodeUnanswered, n.ID, n.HTTPAddr, n.Error))
		case n.Error != "":
			problems = append(problems, n.ID+": "+n.Error)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p)
	}
	return nil
}

// noLeader is the leader line while none is elected: it takes a majority
// of the voters, which it counts.
func (e *env) noLeader(nodes []api.ClusterNode) string {
	voters := 0
	for _, n := range nodes {
		if n.Suffrage == raftVoter {
			voters++
		}
	}
	if voters == 0 {
		return e.msg(msgNoLeaderUnknown)
	}
	return e.msg(msgNoLeader, voters/2+1, voters)
}

// raftVoter is ClusterNode.Suffrage of a voting member (hashicorp/raft's
// name for it).
const raftVoter = "Voter"
