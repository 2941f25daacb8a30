package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

// maxAuditLimit is the most entries GET /v1/audit returns (docs/API.md).
const maxAuditLimit = 100000

func auditCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "show the audit log: who changed what, when, at which index",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Value: 50, Usage: fmt.Sprintf("show the newest `N` entries, 1 to %d", maxAuditLimit)},
			outputFlag(),
		},
		Action: adminAction(e, 0, 0, "",
			func(c *cli.Context, _ []string) ([]api.AuditEntry, error) {
				limit, err := intFlag(c, "limit", 1, maxAuditLimit)
				if err != nil {
					return nil, err
				}
				return client(c).Audit(c.Context, limit)
			},
			func(es []api.AuditEntry, _ []string) error {
				tw := e.table()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrIndex), e.msg(msgHdrTime), e.msg(msgHdrActor), e.msg(msgHdrRole), e.msg(msgHdrAction), e.msg(msgHdrTarget), e.msg(msgHdrDetails))
				for _, a := range es {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Index, a.Time.Format(time.RFC3339), a.Actor, a.Role, a.Action, auditText(a.Target), auditText(a.Details))
				}
				return tw.Flush()
			}),
	}
}

// auditText is an audit entry's target or details for the table. The
// control plane writes counts in the plural whatever they are ("1 profiles",
// "rows 3-3 stored"; controlplane/fsm, apply_*.go) and the log keeps them
// so: the table says "1 profile" and "row 3 stored". -o json shows the
// entry as stored.
func auditText(s string) string {
	for _, c := range [...]struct{ many, one string }{
		{"1 profiles", "1 profile"},
		{"1 customers", "1 customer"},
		{"1 keys", "1 key"},
		{"1 ledger events", "1 ledger event"},
	} {
		if rest, ok := strings.CutPrefix(s, c.many); ok && (rest == "" || rest[0] == ' ') {
			return c.one + rest
		}
	}
	// A range of one: "rows 3-3 stored".
	if rest, ok := strings.CutPrefix(s, "rows "); ok {
		span, tail, _ := strings.Cut(rest, " ")
		if from, to, ok := strings.Cut(span, "-"); ok && from != "" && from == to && tail == "stored" {
			return "row " + from + " stored"
		}
	}
	return s
}
