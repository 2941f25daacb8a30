package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The most contacts GET /v1/contacts returns, and contacts query's
// default.
const (
	maxContactsLimit     = 100000
	defaultContactsLimit = 1000
)

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
				Usage: "a customer's contacts, oldest first, at most --limit (a note on stderr when more follow)",
				Description: "Shows the oldest --limit contacts at or after --since. When more follow, a note on stderr gives the\n" +
					"--since of the next page; --since 24h (or another duration) shows the newest. -o json prints the API's array.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "customer", Required: true, Usage: "customer `ID`"},
					&cli.StringFlag{Name: "since", Usage: "only contacts at or after `T`: an RFC 3339 time, a date (YYYY-MM-DD, midnight UTC) or a duration back from now (24h, 30d)"},
					&cli.IntFlag{Name: "limit", Value: defaultContactsLimit, Usage: fmt.Sprintf("at most `N` contacts, 1 to %d", maxContactsLimit)},
					outputFlag(),
				},
				Action: func(c *cli.Context) error { return e.queryContacts(c) },
			},
			contactsImportCommand(e),
		},
	}
}

// The contact commands' own strings (messages.go holds the older ones).
type contactsKey int

const (
	ctMore contactsKey = iota
	ctMaybeMore
)

var contactsMessages = map[string]map[contactsKey]string{
	"en": {
		ctMore: "note: only the oldest %d contacts are shown; more follow. " +
			"Next page: --since %s; the newest: --since 24h (or another duration); or raise --limit (at most %d)",
		ctMaybeMore: "note: %d contacts shown, the most one query returns; more may follow. Next page: --since %s " +
			"(it repeats the contacts at exactly that time); the newest: --since 24h (or another duration)",
	},
	"zh": {
		ctMore:      "注意：仅显示最早的 %d 条接触，后面还有。下一页：--since %s；最新的：--since 24h（或其他时长）；或调大 --limit（最多 %d）",
		ctMaybeMore: "注意：已显示 %d 条接触，即单次查询的上限；后面可能还有。下一页：--since %s（会重复恰在该时刻的接触）；最新的：--since 24h（或其他时长）",
	},
}

func (e *env) ctmsg(k contactsKey, args ...any) string {
	return translate(e, contactsMessages, k, args...)
}

// erasedCustomer is the ledger's customer id of every erased customer's
// contacts (fsm.ErasedCustomer): no valid id, but one can query it.
const erasedCustomer = "~erased"

// queryContacts is contacts query. It asks for one contact more than
// --limit to learn whether more follow (at the API's maximum it cannot,
// and a full answer says more may), and says so on stderr with the
// --since of the next page; stdout is the table, or the API's JSON array.
func (e *env) queryContacts(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	if _, err := args(c, 0, 0, "--customer ID [--since T] [--limit N]"); err != nil {
		return err
	}
	customer := c.String("customer")
	if customer != erasedCustomer && !protocol.ValidAgentID(customer) {
		return usageError(fmt.Errorf("--customer %q: a customer id is 1 to 128 ASCII letters, digits, '-', '_' or '.'", customer))
	}
	limit, err := intFlag(c, "limit", 1, maxContactsLimit)
	if err != nil {
		return err
	}
	evs, err := client(c).Contacts(c.Context, customer, c.String("since"), min(limit+1, maxContactsLimit))
	if err != nil {
		return err
	}
	switch {
	case len(evs) > limit:
		next := evs[limit].Time.UTC().Format(time.RFC3339Nano)
		evs = evs[:limit]
		fmt.Fprintln(e.stderr, e.ctmsg(ctMore, limit, next, maxContactsLimit))
	case limit == maxContactsLimit && len(evs) == limit:
		fmt.Fprintln(e.stderr, e.ctmsg(ctMaybeMore, limit, evs[limit-1].Time.UTC().Format(time.RFC3339Nano)))
	}
	if out == "json" {
		return e.printJSON(evs)
	}
	return e.printContacts(evs)
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
