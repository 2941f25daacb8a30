package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func applyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "apply catalogue documents (offers, plans, campaigns, contact policies) from YAML or JSON",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Required: true, Usage: "`FILE` with one or more documents (- for stdin); repeat for several files, applied as one unit"},
			outputFlag(),
		},
		Action: adminAction(e, 0, 0, "-f FILE",
			func(c *cli.Context, _ []string) (*api.ApplyResult, error) {
				body, ctype, err := readDocuments(c.StringSlice("filename"))
				if err != nil {
					return nil, err
				}
				return client(c).Apply(c.Context, body, ctype)
			},
			func(res *api.ApplyResult, _ []string) error {
				tw := e.table()
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.msg(msgHdrKind), e.msg(msgHdrID), e.msg(msgHdrAction))
				for _, d := range res.Documents {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Kind, d.ID, d.Action)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, e.msg(msgCommitted, res.Index))
				return nil
			}),
	}
}

// readDocuments reads the files into one request body. Several files are
// sent together as one YAML stream (JSON is valid YAML), so the whole set
// commits as one unit.
func readDocuments(files []string) ([]byte, string, error) {
	var parts [][]byte
	for _, f := range files {
		var b []byte
		var err error
		if f == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", f, err)
		}
		parts = append(parts, b)
	}
	if len(parts) == 1 {
		ctype := "application/yaml"
		if strings.EqualFold(filepath.Ext(files[0]), ".json") {
			ctype = "application/json"
		}
		return parts[0], ctype, nil
	}
	var body []byte
	for i, p := range parts {
		if i > 0 {
			body = append(body, "\n---\n"...)
		}
		body = append(body, p...)
	}
	return body, "application/yaml", nil
}

func kindArg(s string) (protocol.Kind, error) {
	k, ok := protocol.KindFromPlural(strings.ToLower(s))
	if !ok {
		if k, ok = protocol.KindFromPlural(s); !ok {
			plurals := make([]string, len(protocol.Kinds))
			for i, k := range protocol.Kinds {
				plurals[i] = k.Plural()
			}
			return "", &cliError{code: string(api.CodeUnknownKind), err: fmt.Errorf("unknown kind %q: use one of %s", s, strings.Join(plurals, ", "))}
		}
	}
	return k, nil
}

func getCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "show catalogue objects: get offers|plans|campaigns|policies|models|propensities [ID]",
		ArgsUsage: "KIND [ID]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stale", Usage: "read from the node you reach without asking the leader (faster, may lag)"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			out, err := format(c)
			if err != nil {
				return err
			}
			a, err := args(c, 1, 2, "KIND [ID]")
			if err != nil {
				return err
			}
			k, err := kindArg(a[0])
			if err != nil {
				return err
			}
			cl := client(c)
			if len(a) == 2 {
				o, err := cl.Get(c.Context, k.Plural(), a[1], c.Bool("stale"))
				if err != nil {
					return err
				}
				if out == "json" {
					return e.printJSON(o)
				}
				return e.printDocument(o.Doc, o.Index)
			}
			objs, err := cl.List(c.Context, k.Plural(), c.Bool("stale"))
			if err != nil {
				return err
			}
			if out == "json" {
				return e.printJSON(objs)
			}
			if len(objs) == 0 {
				fmt.Fprintln(e.stdout, e.msg(msgNoObjects, k.Plural()))
				return nil
			}
			tw := e.table()
			if k == protocol.KindOffer {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrName), e.msg(msgHdrCategory), e.msg(msgHdrValue), e.msg(msgHdrChannels), e.msg(msgHdrIndex))
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrName), e.msg(msgHdrIndex))
			}
			for _, o := range objs {
				var f struct {
					Name     string   `json:"name"`
					Category string   `json:"category"`
					Value    float64  `json:"value"`
					Channels []string `json:"channels"`
				}
				_ = json.Unmarshal(o.Doc, &f)
				if k == protocol.KindOffer {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%g\t%s\t%d\n", o.ID, f.Name, f.Category, f.Value, strings.Join(f.Channels, ","), o.Index)
				} else {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", o.ID, f.Name, o.Index)
				}
			}
			return tw.Flush()
		},
	}
}

// printDocument prints one object as "field: value" lines in document order.
func (e *env) printDocument(doc json.RawMessage, index uint64) error {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	if _, err := dec.Token(); err != nil {
		return err
	}
	tw := e.table()
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		s := string(v)
		var str string
		if json.Unmarshal(v, &str) == nil {
			s = str
		}
		fmt.Fprintf(tw, "%v:\t%s\n", kt, s)
	}
	fmt.Fprintf(tw, "index:\t%d\n", index)
	return tw.Flush()
}

func deleteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a catalogue object: delete offers|plans|campaigns|policies|models|propensities ID",
		ArgsUsage: "KIND ID",
		Flags:     []cli.Flag{outputFlag()},
		Action: adminAction(e, 2, 2, "KIND ID",
			func(c *cli.Context, a []string) (*api.WriteResult, error) {
				k, err := kindArg(a[0])
				if err != nil {
					return nil, err
				}
				return client(c).Delete(c.Context, k.Plural(), a[1])
			},
			func(res *api.WriteResult, a []string) error {
				k, _ := kindArg(a[0])
				fmt.Fprintln(e.stdout, e.msg(msgDeleted, k, a[1], res.Index))
				return nil
			}),
	}
}
