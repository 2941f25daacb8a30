package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

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
				body, ctype, files, err := readDocuments(c.StringSlice("filename"))
				if err != nil {
					return nil, err
				}
				res, err := client(c).Apply(c.Context, body, ctype)
				return res, files.locate(err)
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
				for _, w := range res.Warnings {
					fmt.Fprintf(e.stderr, "warning: %s: %s %s %s\n", w.Code, w.Kind, w.ID, w.Message)
				}
				return nil
			}),
	}
}

// readDocuments reads the files into one request body. Several files are
// sent together as one YAML stream (JSON is valid YAML), so the whole set
// commits as one unit; files says where each one is in the stream (its
// documents and its first line), so that an error names its file and the
// document and line within it (docFiles.locate).
func readDocuments(names []string) ([]byte, string, docFiles, error) {
	var parts [][]byte
	for _, f := range names {
		var b []byte
		var err error
		if f == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, "", nil, fmt.Errorf("read %s: %w", f, err)
		}
		parts = append(parts, b)
	}
	if len(parts) == 1 {
		ctype := "application/yaml"
		if strings.EqualFold(filepath.Ext(names[0]), ".json") {
			ctype = "application/json"
		}
		return parts[0], ctype, nil, nil
	}
	files := make(docFiles, len(parts))
	var body []byte
	line := 1
	for i, p := range parts {
		docs, err := countDocuments(p)
		if err != nil {
			return nil, "", nil, usageError(fmt.Errorf("%s: %v", names[i], err))
		}
		files[i] = docFile{name: names[i], docs: docs, line: line}
		if i > 0 {
			body = append(body, "\n---\n"...)
		}
		body = append(body, p...)
		line += bytes.Count(p, []byte("\n")) + 2 // the file, then "\n---\n"
	}
	return body, "application/yaml", files, nil
}

// countDocuments counts the catalogue documents of one file as the
// cluster splits a body: the documents of a YAML stream, the elements of
// a JSON (or YAML) array.
func countDocuments(b []byte) (int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.SequenceNode {
			n += len(doc.Content[0].Content)
		} else if len(doc.Content) > 0 {
			n++
		}
	}
}

// docFile is one file of an apply: its documents and its first line in
// the stream sent.
type docFile struct {
	name       string
	docs, line int
}

// docFiles are the files of one apply, in order.
type docFiles []docFile

// streamLine is "line N" in the cluster's messages.
var streamLine = regexp.MustCompile(`\bline (\d+)\b`)

// locate puts an error the cluster gave about document n of the stream
// in its file: "offers.yaml, document 1" (0-based, as the API counts),
// its YAML line numbers the file's own.
func (fs docFiles) locate(err error) error {
	var ae *api.Error
	if len(fs) == 0 || !errors.As(err, &ae) || ae.Document == nil {
		return err
	}
	n := *ae.Document
	for _, f := range fs {
		if n >= f.docs {
			n -= f.docs
			continue
		}
		c := *ae
		c.Message = streamLine.ReplaceAllStringFunc(c.Message, func(m string) string {
			l, _ := strconv.Atoi(streamLine.FindStringSubmatch(m)[1])
			if l < f.line {
				return m
			}
			return "line " + strconv.Itoa(l-f.line+1)
		})
		loc := fmt.Sprintf("%s, document %d (document %d of the request)", f.name, n, *ae.Document)
		if c.Field != "" {
			loc += ": " + c.Field
			c.Field = ""
		}
		c.Document = nil
		c.Message = loc + ": " + c.Message
		return &c
	}
	return err
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
			e.printObjects(tw, k, objs)
			return tw.Flush()
		},
	}
}

// printObjects is get's table: per kind, what tells the objects apart at
// a glance (a campaign's status, channels, control group and schedule; a
// policy's cap, window and quiet hours).
func (e *env) printObjects(tw io.Writer, k protocol.Kind, objs []api.Object) {
	switch k {
	case protocol.KindOffer:
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrName), e.msg(msgHdrCategory), e.msg(msgHdrValue), e.msg(msgHdrChannels), e.msg(msgHdrIndex))
		for _, o := range objs {
			var f protocol.Offer
			_ = json.Unmarshal(o.Doc, &f)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%g\t%s\t%d\n", o.ID, orDash(f.Name), f.Category, f.Value, orDash(strings.Join(f.Channels, ",")), o.Index)
		}
	case protocol.KindCampaign:
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrName), e.msg(msgHdrStatus), e.msg(msgHdrChannels),
			e.catmsg(catHdrControl), e.catmsg(catHdrSchedule), e.catmsg(catHdrOffers), e.msg(msgHdrIndex))
		for _, o := range objs {
			var f protocol.Campaign
			_ = json.Unmarshal(o.Doc, &f)
			status := f.Status
			if status == "" {
				status = "active"
			}
			channels := strings.Join(f.Channels, ",")
			if channels == "" {
				channels = e.catmsg(catAllChannels)
			}
			schedule := "-"
			if f.StartAt != "" || f.EndAt != "" {
				schedule = orDash(f.StartAt) + " – " + orDash(f.EndAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%g%%\t%s\t%d\t%d\n", o.ID, orDash(f.Name), status, channels, f.ControlGroupPercent, schedule, len(f.Offers), o.Index)
		}
	case protocol.KindContactPolicy:
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrChannel), e.catmsg(catHdrMax), e.catmsg(catHdrWindow), e.catmsg(catHdrQuiet), e.msg(msgHdrIndex))
		for _, o := range objs {
			var f protocol.ContactPolicy
			_ = json.Unmarshal(o.Doc, &f)
			quiet := "-"
			if q := f.QuietHours; q != nil {
				quiet = q.Start + "–" + q.End + " " + cmp.Or(q.Timezone, protocol.DefaultTimezone)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\n", o.ID, f.Channel, f.MaxContacts, f.Window, quiet, o.Index)
		}
	default:
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrName), e.msg(msgHdrIndex))
		for _, o := range objs {
			var f struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(o.Doc, &f)
			fmt.Fprintf(tw, "%s\t%s\t%d\n", o.ID, orDash(f.Name), o.Index)
		}
	}
}

// maxDocumentValue is the longest member value get's table shows whole.
const maxDocumentValue = 200

// The catalogue commands' own strings (messages.go holds the older ones).
type catalogKey int

const (
	catHdrControl catalogKey = iota
	catHdrSchedule
	catHdrOffers
	catHdrMax
	catHdrWindow
	catHdrQuiet
	catAllChannels
	catLongValue
)

var catalogMessages = map[string]map[catalogKey]string{
	"en": {catHdrControl: "CONTROL", catHdrSchedule: "SCHEDULE", catHdrOffers: "OFFERS", catHdrMax: "MAX", catHdrWindow: "WINDOW",
		catHdrQuiet: "QUIET HOURS", catAllChannels: "all", catLongValue: "%s (%d bytes in all: -o json shows it)"},
	"zh": {catHdrControl: "对照组", catHdrSchedule: "排期", catHdrOffers: "优惠数", catHdrMax: "上限", catHdrWindow: "窗口",
		catHdrQuiet: "免打扰时段", catAllChannels: "全部", catLongValue: "%s（共 %d 字节：-o json 显示全部）"},
}

func (e *env) catmsg(k catalogKey, args ...any) string {
	return translate(e, catalogMessages, k, args...)
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
		if len(s) > maxDocumentValue {
			// A model's trees or coefficients: not for one line.
			s = e.catmsg(catLongValue, truncate(s), len(v))
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
