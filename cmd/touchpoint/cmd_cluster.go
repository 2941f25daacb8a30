package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
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
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					if _, err := args(c, 0, 0, ""); err != nil {
						return err
					}
					st, err := client(c).ClusterStatus(c.Context)
					if err != nil {
						return err
					}
					if out == "json" {
						return e.printJSON(st)
					}
					leader := st.Leader
					if leader == "" {
						leader = e.msg(msgNoLeader)
					}
					fmt.Fprintln(e.stdout, e.msg(msgLeader, leader))
					tw := e.table()
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrAddress), e.msg(msgHdrState), e.msg(msgHdrLastIndex))
					var problems []string
					for _, n := range st.Nodes {
						last := fmt.Sprint(n.LastIndex)
						if n.State == api.StateUnreachable {
							last = "-"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ID, n.Address, n.State, last)
						if n.Error != "" {
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
				},
			},
			{
				Name:      "remove",
				Usage:     "take a (dead) node out of the cluster configuration",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					a, err := args(c, 1, 1, "ID")
					if err != nil {
						return err
					}
					res, err := client(c).Remove(c.Context, a[0])
					if err != nil {
						return err
					}
					if out == "json" {
						return e.printJSON(res)
					}
					fmt.Fprintln(e.stdout, e.msg(msgRemoved, a[0], res.Index))
					return nil
				},
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
						Action: func(c *cli.Context) error {
							out, err := format(c)
							if err != nil {
								return err
							}
							a, err := args(c, 1, 1, "FILE")
							if err != nil {
								return err
							}
							n, err := saveSnapshot(c, a[0])
							if err != nil {
								return err
							}
							if out == "json" {
								return e.printJSON(map[string]any{"file": a[0], "bytes": n})
							}
							fmt.Fprintln(e.stdout, e.msg(msgSnapshotSaved, a[0], n))
							return nil
						},
					},
					{
						Name:      "restore",
						Usage:     "replace the cluster's state with a saved snapshot",
						ArgsUsage: "FILE",
						Flags:     []cli.Flag{outputFlag()},
						Action: func(c *cli.Context) error {
							out, err := format(c)
							if err != nil {
								return err
							}
							a, err := args(c, 1, 1, "FILE")
							if err != nil {
								return err
							}
							f, err := os.Open(a[0])
							if err != nil {
								return fmt.Errorf("read snapshot: %w", err)
							}
							defer f.Close()
							res, err := client(c).SnapshotRestore(c.Context, f)
							if err != nil {
								return err
							}
							if out == "json" {
								return e.printJSON(res)
							}
							fmt.Fprintln(e.stdout, e.msg(msgSnapshotRestored, a[0], res.Index))
							return nil
						},
					},
				},
			},
		},
	}
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
					&cli.StringFlag{Name: "name", Usage: "a label for the token (who or what uses it)"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					if _, err := args(c, 0, 0, "--role ROLE"); err != nil {
						return err
					}
					t, err := client(c).CreateToken(c.Context, api.TokenRequest{Role: c.String("role"), Name: c.String("name")})
					if err != nil {
						return err
					}
					if out == "json" {
						return e.printJSON(t)
					}
					fmt.Fprintln(e.stdout, e.msg(msgTokenCreated, t.Role, t.ID))
					fmt.Fprintln(e.stdout, e.msg(msgTokenShownOnce))
					fmt.Fprintln(e.stdout, t.Token)
					return nil
				},
			},
			{
				Name:  "ls",
				Usage: "list tokens (ids and roles; secrets are never stored)",
				Flags: []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					ts, err := client(c).Tokens(c.Context)
					if err != nil {
						return err
					}
					if out == "json" {
						return e.printJSON(ts)
					}
					tw := e.table()
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrRole), e.msg(msgHdrName), e.msg(msgHdrTime))
					for _, t := range ts {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.Created.Format(time.RFC3339))
					}
					return tw.Flush()
				},
			},
		},
	}
}

func auditCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "show the audit log: who changed what, when, at which index",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "show the newest `N` entries"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			out, err := format(c)
			if err != nil {
				return err
			}
			if _, err := args(c, 0, 0, ""); err != nil {
				return err
			}
			es, err := client(c).Audit(c.Context, c.Int("limit"))
			if err != nil {
				return err
			}
			if out == "json" {
				return e.printJSON(es)
			}
			tw := e.table()
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrIndex), e.msg(msgHdrTime), e.msg(msgHdrActor), e.msg(msgHdrRole), e.msg(msgHdrAction), e.msg(msgHdrTarget), e.msg(msgHdrDetails))
			for _, a := range es {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Index, a.Time.Format(time.RFC3339), a.Actor, a.Role, a.Action, a.Target, a.Details)
			}
			return tw.Flush()
		},
	}
}
