package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// maxContactsLimit is the most contacts GET /v1/contacts returns.
const maxContactsLimit = 100000

func contactsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "contacts",
		Usage: "the contact ledger: what agents logged and the cluster committed",
		Subcommands: []*cli.Command{
			{
				Name:  "stats",
				Usage: "events committed in total and per agent, with each agent's highest sequence",
				Flags: []cli.Flag{outputFlag()},
				Action: adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) (*api.ContactStats, error) { return client(c).ContactStats(c.Context) },
					func(st *api.ContactStats, _ []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgContactsTotal, st.Total))
						tw := e.table()
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.msg(msgHdrAgent), e.msg(msgHdrReceived), e.msg(msgHdrHighestSeq), e.msg(msgHdrLastEvent))
						for _, a := range st.Agents {
							fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", a.AgentID, a.Received, a.HighestSequence, a.LastEvent.Format(time.RFC3339))
						}
						return tw.Flush()
					}),
			},
			{
				Name:  "query",
				Usage: "a customer's contacts, oldest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "customer", Required: true, Usage: "customer `ID`"},
					&cli.StringFlag{Name: "since", Usage: "only contacts at or after `T`: an RFC 3339 time or a duration back from now (24h)"},
					&cli.IntFlag{Name: "limit", Value: 1000, Usage: fmt.Sprintf("at most `N` contacts, 1 to %d", maxContactsLimit)},
					outputFlag(),
				},
				Action: adminAction(e, 0, 0, "--customer ID [--since T]",
					func(c *cli.Context, _ []string) ([]protocol.ContactEvent, error) {
						limit, err := intFlag(c, "limit", 1, maxContactsLimit)
						if err != nil {
							return nil, err
						}
						return client(c).Contacts(c.Context, c.String("customer"), c.String("since"), limit)
					},
					func(evs []protocol.ContactEvent, _ []string) error { return e.printContacts(evs) }),
			},
		},
	}
}

// printContacts is the contact table of `contacts query` and `customers
// show`, one event a line in the order given: an empty field is "-", the
// value in yuan with two decimals, the decision id shortened (shortID).
func (e *env) printContacts(evs []protocol.ContactEvent) error {
	tw := e.table()
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		e.msg(msgHdrTime), e.msg(msgHdrAgent), e.msg(msgHdrChannel), e.msg(msgHdrType), e.msg(msgHdrOutcome),
		e.msg(msgHdrCampaign), e.msg(msgHdrOffer), e.msg(msgHdrValue), e.msg(msgHdrDecision), e.msg(msgHdrSeq))
	for _, ev := range evs {
		value := "-"
		if ev.Value != 0 {
			value = strconv.FormatFloat(ev.Value, 'f', 2, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", ev.Time.Format(time.RFC3339), ev.AgentID, ev.Channel, ev.Type, ev.Outcome,
			orDash(ev.CampaignID), orDash(ev.OfferID), value, orDash(shortID(ev.DecisionID)), ev.Seq)
	}
	return tw.Flush()
}

// shortIDLen is how many characters of a decision id the contact table
// shows: the agent's ids are "d-" and 24 hex digits, and 8 of them tell a
// customer's decisions apart; -o json has the whole id.
const shortIDLen = 10

// shortID is id cut to shortIDLen characters, with "…" when cut.
func shortID(id string) string {
	if r := []rune(id); len(r) > shortIDLen+1 {
		return string(r[:shortIDLen]) + "…"
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
