package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/attrtext"
)

// Customer import: a CSV or JSON Lines file becomes typed profiles, read as a
// stream and sent through the admin API in batches (docs/CUSTOMERS.md).
//
// Typing rules (CSV, and string values in JSON Lines are kept as strings):
//   - blank or whitespace-only: missing (no key);
//   - attributes protocol.IsPII names: always text;
//   - yes/no/true/false, any case: booleans;
//   - decimal numbers with at most 15 significant digits and no leading
//     zero ("0123" stays text, "0.5" is a number): float64;
//   - anything else: text, trimmed.

// Reserved columns besides the id and region columns.
const (
	colDoNotDisturb = "doNotDisturb"
	colDND          = "dnd"
	colConsentUnder = "consent_"
	colConsentDot   = "consent."
)

// maxJSONLine bounds one JSON Lines record.
const maxJSONLine = 1 << 20

// rowError is a row the import skipped: its line and why. A stray quote
// makes one error of several lines: Line to LastLine, every one of them
// counted as a skipped row.
type rowError struct {
	Line int `json:"line"`
	// LastLine is set when the error spans lines (Line to LastLine).
	LastLine int `json:"lastLine,omitempty"`
	// Kind groups reasons in the summary; Reason is Kind with details.
	Kind   string `json:"-"`
	Reason string `json:"reason"`
}

func (e *rowError) Error() string { return e.Reason }

// rows is how many rows of the file the error skips.
func (e *rowError) rows() int {
	if e.LastLine > e.Line {
		return e.LastLine - e.Line + 1
	}
	return 1
}

func badRow(line int, kind, format string, args ...any) *rowError {
	r := kind
	if format != "" {
		r += ": " + fmt.Sprintf(format, args...)
	}
	return &rowError{Line: line, Kind: kind, Reason: r}
}

// Kinds of bad rows.
const (
	kindColumns  = "wrong column count"
	kindSyntax   = "malformed CSV"
	kindJSON     = "malformed JSON"
	kindUTF8     = "invalid UTF-8"
	kindID       = "bad customer id"
	kindRegion   = "bad region"
	kindBool     = "not a yes/no value"
	kindTooLong  = "value too long"
	kindInvalid  = "invalid profile"
	kindRefused  = "refused by the cluster"
	kindTooMany  = "too many attributes"
	kindLongLine = "line too long"
)

// columns says what each column of a file means.
type columns struct {
	idNames     []string // candidates, first present wins
	regionNames []string
}

func newColumns(idColumn, regionColumn string) columns {
	c := columns{idNames: []string{"id", "customerId", "customerID"}, regionNames: []string{"region"}}
	if idColumn != "" {
		c.idNames = []string{idColumn}
	}
	if regionColumn != "" {
		c.regionNames = []string{regionColumn}
	}
	return c
}

// column roles in a CSV header.
type colRole int

const (
	roleAttr colRole = iota
	roleID
	roleRegion
	roleDND
	roleConsent
)

type csvColumn struct {
	name    string
	role    colRole
	channel string // roleConsent
	pii     bool
}

// consentChannel returns the channel of a consent_<channel> or
// consent.<channel> column.
func consentChannel(name string) (string, bool) {
	lower := strings.ToLower(name)
	for _, p := range []string{colConsentUnder, colConsentDot} {
		if ch, ok := strings.CutPrefix(lower, p); ok {
			return ch, true
		}
	}
	return "", false
}

func validChannel(ch string) bool {
	return ch == protocol.ChannelAll || slices.Contains(protocol.KnownChannels, ch)
}

// headerCell is column i's name in a CSV header: without surrounding
// spaces, and without the UTF-8 byte-order mark a spreadsheet may put
// before the first one. Both imports (customers, contacts) read names so.
func headerCell(i int, h string) string {
	if i == 0 {
		h = strings.TrimPrefix(h, "\ufeff")
	}
	return strings.TrimSpace(h)
}

// planHeader reads a CSV header: every column's role, or why the file
// cannot be imported.
func planHeader(header []string, cols columns, explicitID, explicitRegion bool) ([]csvColumn, error) {
	out := make([]csvColumn, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = headerCell(i, h)
		if h == "" {
			return nil, fmt.Errorf("column %d of the header has no name", i+1)
		}
		if !utf8.ValidString(h) || len(h) > protocol.MaxAttributeName {
			return nil, fmt.Errorf("column %d: a name is 1 to %d bytes of UTF-8", i+1, protocol.MaxAttributeName)
		}
		if seen[h] {
			return nil, fmt.Errorf("column %q appears twice in the header", h)
		}
		seen[h] = true
		out[i] = csvColumn{name: h, pii: protocol.IsPII(h)}
	}
	idAt := pick(out, cols.idNames)
	if idAt < 0 {
		if explicitID {
			return nil, fmt.Errorf("the header has no column %q (--id-column)", cols.idNames[0])
		}
		return nil, fmt.Errorf("the header has no id column (id, customerId or customerID); name it with --id-column")
	}
	out[idAt].role = roleID
	if r := pick(out, cols.regionNames); r >= 0 && r != idAt {
		out[r].role = roleRegion
	} else if explicitRegion {
		return nil, fmt.Errorf("the header has no column %q (--region-column)", cols.regionNames[0])
	}
	attrs := 0
	for i := range out {
		c := &out[i]
		if c.role != roleAttr {
			continue
		}
		if strings.EqualFold(c.name, colDoNotDisturb) || strings.EqualFold(c.name, colDND) {
			c.role = roleDND
			continue
		}
		if ch, ok := consentChannel(c.name); ok {
			if !validChannel(ch) {
				return nil, fmt.Errorf("column %q: consent for unknown channel %q (channels: all, %s)", c.name, ch, strings.Join(protocol.KnownChannels, ", "))
			}
			c.role, c.channel = roleConsent, ch
			continue
		}
		attrs++
	}
	if attrs > protocol.MaxProfileAttributes {
		return nil, fmt.Errorf("%d attribute columns; a profile holds at most %d", attrs, protocol.MaxProfileAttributes)
	}
	return out, nil
}

func pick(cols []csvColumn, names []string) int {
	for _, n := range names {
		for i, c := range cols {
			if c.name == n {
				return i
			}
		}
	}
	return -1
}

// typedValue applies the typing rules to one CSV value; ok is false for a
// missing value.
func typedValue(raw string, pii bool) (any, bool) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return nil, false
	}
	if pii {
		return v, true
	}
	if b, ok := attrtext.Bool(v); ok {
		return b, true
	}
	if f, ok := attrtext.Number(v); ok {
		return f, true
	}
	return v, true
}

// checkID refuses a customer id the cluster would.
func checkID(line int, id string) *rowError {
	if id == "" {
		return badRow(line, kindID, "no customer id")
	}
	if !protocol.ValidAgentID(id) {
		return badRow(line, kindID, "%q: 1 to 128 ASCII letters, digits, '-', '_' or '.'", truncate(id))
	}
	return nil
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// profileFromRow builds a profile from one CSV record.
func profileFromRow(cols []csvColumn, rec []string, line int) (protocol.Profile, *rowError) {
	var p protocol.Profile
	if len(rec) != len(cols) {
		return p, badRow(line, kindColumns, "%d columns, the header has %d", len(rec), len(cols))
	}
	for i, raw := range rec {
		c := &cols[i]
		if !utf8.ValidString(raw) {
			// "invalid UTF-8: column name" read like a header problem.
			return p, &rowError{Line: line, Kind: kindUTF8, Reason: fmt.Sprintf("%s in column %q", kindUTF8, c.name)}
		}
		if len(raw) > protocol.MaxAttributeValue {
			return p, badRow(line, kindTooLong, "column %q is %d bytes; at most %d", c.name, len(raw), protocol.MaxAttributeValue)
		}
		switch c.role {
		case roleID:
			p.ID = strings.TrimSpace(raw)
		case roleRegion:
			p.Region = strings.TrimSpace(raw)
		case roleDND, roleConsent:
			v := strings.TrimSpace(raw)
			if v == "" {
				continue
			}
			b, ok := attrtext.Bool(v)
			if !ok {
				return p, badRow(line, kindBool, "column %q: %q (use yes/no or true/false)", c.name, truncate(v))
			}
			if c.role == roleDND {
				p.DoNotDisturb = b
			} else {
				if p.Consents == nil {
					p.Consents = map[string]bool{}
				}
				p.Consents[c.channel] = b
			}
		default:
			if v, ok := typedValue(raw, c.pii); ok {
				if p.Attributes == nil {
					p.Attributes = make(map[string]any, len(cols))
				}
				p.Attributes[c.name] = v
			}
		}
	}
	return p, checkProfile(&p, line)
}

// checkProfile applies the cluster's own checks, so a bad row is reported
// with its line instead of refusing a whole batch.
func checkProfile(p *protocol.Profile, line int) *rowError {
	if e := checkID(line, p.ID); e != nil {
		return e
	}
	if p.Region != "" && !protocol.ValidAgentID(p.Region) {
		return badRow(line, kindRegion, "%q: 1 to 128 ASCII letters, digits, '-', '_' or '.'", truncate(p.Region))
	}
	if err := p.Validate(); err != nil {
		return badRow(line, kindInvalid, "%v", err)
	}
	return nil
}

// rowSource yields profiles. A *rowError is a row to skip; any other
// error ends the import; io.EOF ends the file.
type rowSource interface {
	next() (protocol.Profile, int, error)
}

type csvSource struct {
	r    *csv.Reader
	br   *bufio.Reader // what r reads from: at its end, a quote ran to the end of the file
	cols []csvColumn
}

func newCSVSource(r io.Reader, cols columns, explicitID, explicitRegion bool) (*csvSource, error) {
	// csv.NewReader reads from a *bufio.Reader of 4 KiB or more as it is,
	// so br.Peek tells when the csv reader has consumed the whole file.
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 4096 {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("the file is empty: a CSV file starts with a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("read the header: %w", err)
	}
	plan, err := planHeader(header, cols, explicitID, explicitRegion)
	if err != nil {
		return nil, err
	}
	return &csvSource{r: cr, br: br, cols: plan}, nil
}

func (s *csvSource) next() (protocol.Profile, int, error) {
	rec, err := s.r.Read()
	if err != nil {
		// A malformed record is skipped and the reader goes on after it.
		// An unterminated quote makes one record of every line up to the
		// next quote, or to the end of the file: all of them are skipped.
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return protocol.Profile{}, pe.StartLine, s.syntaxError(pe)
		}
		return protocol.Profile{}, 0, err
	}
	line, _ := s.r.FieldPos(0)
	p, re := profileFromRow(s.cols, rec, line)
	if re != nil {
		// A quote closed on a later line by `",` or `"` at the end of a
		// line parses, as one record of the wrong width: the lines it
		// swallowed are skipped with it.
		if re.Kind == kindColumns {
			if last := s.recordEnd(rec); last > line {
				return p, line, &rowError{Line: line, LastLine: last, Kind: kindSyntax,
					Reason: fmt.Sprintf("%s: a quote opened on line %d runs to line %d and makes a row of %d columns, the header has %d; these %d lines are skipped",
						kindSyntax, line, last, len(rec), len(s.cols), last-line+1)}
			}
		}
		return p, line, re
	}
	return p, line, nil
}

// recordEnd is the line the record just read ends on: a quoted field
// holds the line ends it runs over (as "\n").
func (s *csvSource) recordEnd(rec []string) int {
	if len(rec) == 0 {
		return 0
	}
	l, _ := s.r.FieldPos(len(rec) - 1)
	return l + strings.Count(rec[len(rec)-1], "\n")
}

// syntaxError is the skipped rows of a record encoding/csv refused: the
// record's lines, StartLine to Line. A quote that opens a field and is not
// closed before the line ends takes the following lines into the field,
// up to the next quote or the end of the file.
func (s *csvSource) syntaxError(pe *csv.ParseError) *rowError {
	first, last := pe.StartLine, max(pe.Line, pe.StartLine)
	_, perr := s.br.Peek(1)
	atEOF := perr != nil && errors.Is(pe.Err, csv.ErrQuote)
	switch {
	case atEOF && last > first:
		return &rowError{Line: first, LastLine: last, Kind: kindSyntax,
			Reason: fmt.Sprintf("%s: a quote opened on line %d is never closed: it runs to the end of the file at line %d (%v); these %d lines are skipped",
				kindSyntax, first, last, pe.Err, last-first+1)}
	case atEOF:
		return badRow(first, kindSyntax, "a quote opened on line %d is never closed (%v)", first, pe.Err)
	case last > first:
		return &rowError{Line: first, LastLine: last, Kind: kindSyntax,
			Reason: fmt.Sprintf("%s: a quote opened on line %d runs to line %d (%v); these %d lines are skipped",
				kindSyntax, first, last, pe.Err, last-first+1)}
	}
	return badRow(first, kindSyntax, "%v", pe.Err)
}

type jsonlSource struct {
	r    *bufio.Reader
	line int
	cols columns
}

func newJSONLSource(r io.Reader, cols columns) *jsonlSource {
	return &jsonlSource{r: bufio.NewReaderSize(r, 256<<10), cols: cols}
}

// readLine returns the next line without its end, or a rowError for a
// line longer than maxJSONLine (which is skipped).
func (s *jsonlSource) readLine() ([]byte, error) {
	s.line++
	buf, long, err := readBoundedLine(s.r, maxJSONLine)
	if err != nil {
		return nil, err
	}
	if long {
		return nil, badRow(s.line, kindLongLine, "longer than %d bytes", maxJSONLine)
	}
	return bytes.TrimRight(buf, "\r\n"), nil
}

// readBoundedLine reads the next line with its end, keeping none of one
// longer than max (long reports it; the line is consumed). The last line
// may lack its end; io.EOF comes only when nothing is left.
func readBoundedLine(r *bufio.Reader, max int) (line []byte, long bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !long {
			if len(line)+len(chunk) > max {
				long, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(line) > 0 || long) {
			err = nil
		}
		return line, long, err
	}
}

func (s *jsonlSource) next() (protocol.Profile, int, error) {
	for {
		b, err := s.readLine()
		if err != nil {
			var re *rowError
			if errors.As(err, &re) {
				return protocol.Profile{}, re.Line, re
			}
			return protocol.Profile{}, 0, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		p, re := profileFromJSON(b, s.cols, s.line)
		if re != nil {
			return p, s.line, re
		}
		return p, s.line, nil
	}
}

// profileFromJSON reads one JSON Lines record: the protocol.Profile shape
// (id, region, doNotDisturb, consents, attributes, derived), flat
// attributes, or both together. The id and region fields are those the
// column options name.
func profileFromJSON(b []byte, cols columns, line int) (protocol.Profile, *rowError) {
	var p protocol.Profile
	if !utf8.Valid(b) {
		return p, badRow(line, kindUTF8, "")
	}
	var rec map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&rec); err != nil {
		// A JSON value of another type: say which, not what Go type it
		// did not fit.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return p, badRow(line, kindJSON, "a JSON Lines row must be a JSON object, not %s", jsonKind(b))
		}
		return p, badRow(line, kindJSON, "%v", err)
	}
	if dec.More() {
		return p, badRow(line, kindJSON, "more than one value on the line")
	}
	if rec == nil {
		return p, badRow(line, kindJSON, "a JSON Lines row must be a JSON object, not null")
	}
	var idKey, regionKey string
	for _, n := range cols.idNames {
		if _, ok := rec[n]; ok {
			idKey = n
			break
		}
	}
	for _, n := range cols.regionNames {
		if _, ok := rec[n]; ok && n != idKey {
			regionKey = n
			break
		}
	}
	var err *rowError
	for _, k := range sortedKeys(rec) {
		v := rec[k]
		switch {
		case k == idKey:
			p.ID, err = jsonText(v, k, line, kindID)
		case k == regionKey:
			p.Region, err = jsonText(v, k, line, kindRegion)
		case k == "index":
			// the cluster sets it
		case strings.EqualFold(k, colDoNotDisturb) || strings.EqualFold(k, colDND):
			var b *bool
			if b, err = jsonBool(v, k, line); b != nil {
				p.DoNotDisturb = *b
			}
		case k == "consents":
			var m map[string]json.RawMessage
			if json.Unmarshal(v, &m) != nil {
				return p, badRow(line, kindJSON, "consents: an object of channel: true/false")
			}
			for ch, cv := range m {
				if err = setConsent(&p, ch, cv, "consents."+ch, line); err != nil {
					return p, err
				}
			}
		case k == "attributes" || k == "derived":
			var m map[string]json.RawMessage
			if json.Unmarshal(v, &m) != nil {
				return p, badRow(line, kindJSON, "%s: an object of name: value", k)
			}
			for name, av := range m {
				if k == "attributes" {
					p.Attributes, err = setJSONAttr(p.Attributes, name, av, line)
				} else {
					p.Derived, err = setJSONAttr(p.Derived, name, av, line)
				}
				if err != nil {
					return p, err
				}
			}
		default:
			if ch, ok := consentChannel(k); ok {
				err = setConsent(&p, ch, v, k, line)
			} else {
				p.Attributes, err = setJSONAttr(p.Attributes, k, v, line)
			}
		}
		if err != nil {
			return p, err
		}
	}
	return p, checkProfile(&p, line)
}

// jsonKind names the kind of the JSON value b holds, by its first byte.
func jsonKind(b []byte) string {
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return "nothing"
	case t[0] == '[':
		return "an array"
	case t[0] == '"':
		return "a string"
	case t[0] == 't' || t[0] == 'f':
		return "a boolean"
	case t[0] == 'n':
		return "null"
	case t[0] == '{':
		return "an object"
	}
	return "a number"
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func jsonText(v json.RawMessage, field string, line int, kind string) (string, *rowError) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), nil
	}
	if string(v) == "null" {
		return "", nil
	}
	return "", badRow(line, kind, "%s must be a string", field)
}

func jsonBool(v json.RawMessage, field string, line int) (*bool, *rowError) {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return &b, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		if b, ok := attrtext.Bool(strings.TrimSpace(s)); ok {
			return &b, nil
		}
	}
	if string(v) == "null" {
		return nil, nil
	}
	return nil, badRow(line, kindBool, "%s: %s (use true/false)", field, truncate(string(v)))
}

func setConsent(p *protocol.Profile, ch string, v json.RawMessage, field string, line int) *rowError {
	ch = strings.ToLower(ch)
	if !validChannel(ch) {
		return badRow(line, kindInvalid, "%s: unknown channel %q", field, truncate(ch))
	}
	b, err := jsonBool(v, field, line)
	if err != nil || b == nil {
		return err
	}
	if p.Consents == nil {
		p.Consents = map[string]bool{}
	}
	p.Consents[ch] = *b
	return nil
}

// setJSONAttr stores a JSON value with its own type: numbers as float64,
// booleans, strings (blank ones are missing); a PII attribute keeps the
// number's text. null is missing; objects and arrays are refused.
func setJSONAttr(m map[string]any, name string, v json.RawMessage, line int) (map[string]any, *rowError) {
	if name == "" || len(name) > protocol.MaxAttributeName {
		return m, badRow(line, kindInvalid, "attribute name %q: 1 to %d bytes", truncate(name), protocol.MaxAttributeName)
	}
	var val any
	switch t := bytes.TrimSpace(v); {
	case len(t) == 0 || string(t) == "null":
		return m, nil
	case t[0] == '"':
		var s string
		if json.Unmarshal(t, &s) != nil {
			return m, badRow(line, kindJSON, "attribute %q", name)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return m, nil
		}
		if len(s) > protocol.MaxAttributeValue {
			return m, badRow(line, kindTooLong, "attribute %q is %d bytes; at most %d", name, len(s), protocol.MaxAttributeValue)
		}
		val = s
	case string(t) == "true" || string(t) == "false":
		val = string(t) == "true"
	case t[0] == '-' || (t[0] >= '0' && t[0] <= '9'):
		if protocol.IsPII(name) {
			val = string(t)
			break
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) {
			return m, badRow(line, kindInvalid, "attribute %q: %s is not a number a float64 holds", name, truncate(string(t)))
		}
		val = f
	default:
		return m, badRow(line, kindInvalid, "attribute %q: objects and arrays are not attribute values", name)
	}
	if m == nil {
		m = map[string]any{}
	}
	m[name] = val
	return m, nil
}

// importConfig tunes the pipeline.
type importConfig struct {
	BatchRows  int // profiles per request (2,000)
	BatchBytes int // approximate JSON bytes per request (1 MiB)
	InFlight   int // requests in flight (4)
}

func (c *importConfig) setDefaults() {
	if c.BatchRows <= 0 {
		c.BatchRows = 2000
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1 << 20
	}
	if c.InFlight <= 0 {
		c.InFlight = 4
	}
}

// importReport is the outcome of an import (-o json prints it). Imported
// and Skipped count rows: Imported + Skipped is the file's data rows
// (blank lines aside).
type importReport struct {
	Imported int        `json:"imported"`
	Skipped  int        `json:"skipped"`
	Errors   []rowError `json:"errors"`
	Index    uint64     `json:"index"`
	// Customers is how many distinct ids the imported rows hold, and
	// Repeated how many imported rows repeat an id an earlier imported row
	// of the file has: Imported = Customers + Repeated. Of one id, the
	// last row imported is what the cluster keeps.
	Customers int `json:"customers"`
	Repeated  int `json:"repeated"`
	// Replaced is how many imported rows replaced a profile the cluster
	// held (one stored before the import, or one an earlier row of the
	// file wrote).
	Replaced int `json:"replaced"`
	// byKind counts skipped rows per kind of reason, for the summary.
	byKind map[string]int
}

// maxReportedErrors caps the errors an import lists.
const maxReportedErrors = 100

func (r *importReport) skip(e *rowError) {
	n := e.rows()
	r.Skipped += n
	if r.byKind == nil {
		r.byKind = map[string]int{}
	}
	r.byKind[e.Kind] += n
	if len(r.Errors) < maxReportedErrors {
		r.Errors = append(r.Errors, *e)
	}
}

// upserter is the API call the import makes.
type upserter interface {
	UpsertCustomersJSON(ctx context.Context, body []byte) (*api.CustomersResult, error)
}

type pendingRow struct {
	p    protocol.Profile
	line int
}

type batch struct{ rows []pendingRow }

// importWorker sends one shard's batches, one after another.
type importWorker struct {
	ch chan batch
	// seen holds the ids the worker has committed. Shards do not share
	// ids, so the workers' sets together count the file's distinct ids.
	seen map[string]struct{}
}

// importer streams rows into batches. Rows are sharded by id over the
// in-flight workers and each worker sends its batches one after another,
// so two rows of one id are always committed in file order (the later one
// wins) while several requests are in flight.
type importer struct {
	cfg    importConfig
	api    upserter
	prog   *importProgress
	mu     sync.Mutex
	report importReport
	fatal  error
}

// importProgress counts rows as the import goes, for a progress display.
type importProgress struct {
	Read      atomic.Int64 // rows read (bad ones included)
	Committed atomic.Int64 // rows the cluster committed
}

// runImport reads src to the end and imports it. An answer that refuses
// the request as a whole (requestRefused) ends the import: reading stops
// and the requests in flight are cancelled. The report is filled in even
// when an error ends the import.
func runImport(ctx context.Context, src rowSource, cl upserter, cfg importConfig, prog *importProgress) (*importReport, error) {
	cfg.setDefaults()
	if prog == nil {
		prog = &importProgress{}
	}
	im := &importer{cfg: cfg, api: cl, prog: prog}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first request goes alone: when its answer refuses the import
	// (a wrong token, a role that may not import), no other is sent.
	var firstSent atomic.Bool
	firstAnswered := make(chan struct{})
	workers := make([]*importWorker, cfg.InFlight)
	var wg sync.WaitGroup
	for i := range workers {
		w := &importWorker{ch: make(chan batch, 1), seen: map[string]struct{}{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range w.ch {
				first := firstSent.CompareAndSwap(false, true)
				if !first {
					select {
					case <-firstAnswered:
					case <-ctx.Done():
					}
				}
				if err := im.send(ctx, w, b.rows); err != nil {
					im.fail(err)
					cancel()
				}
				if first {
					close(firstAnswered)
				}
			}
		}()
	}
	pending := make([][]pendingRow, cfg.InFlight)
	sizes := make([]int, cfg.InFlight)
	var readErr error
	for ctx.Err() == nil {
		p, line, err := src.next()
		if err == io.EOF {
			break
		}
		var re *rowError
		if errors.As(err, &re) {
			im.mu.Lock()
			im.report.skip(re)
			im.mu.Unlock()
			prog.Read.Add(int64(re.rows()))
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		w := int(shard(p.ID) % uint32(cfg.InFlight))
		pending[w] = append(pending[w], pendingRow{p: p, line: line})
		sizes[w] += approxJSONSize(&p)
		if len(pending[w]) >= cfg.BatchRows || sizes[w] >= cfg.BatchBytes {
			select {
			case workers[w].ch <- batch{rows: pending[w]}:
			case <-ctx.Done():
			}
			pending[w], sizes[w] = nil, 0
		}
		prog.Read.Add(1)
	}
	for w := range pending {
		if len(pending[w]) > 0 && ctx.Err() == nil {
			select {
			case workers[w].ch <- batch{rows: pending[w]}:
			case <-ctx.Done():
			}
		}
		close(workers[w].ch)
	}
	wg.Wait()
	im.mu.Lock()
	defer im.mu.Unlock()
	rep := im.report
	if readErr != nil {
		return &rep, fmt.Errorf("read the file: %w", readErr)
	}
	if im.fatal != nil {
		return &rep, im.fatal
	}
	// Interrupted (Ctrl-C): the rows read since the last answer are not
	// committed, so the report is not the file's.
	if err := context.Cause(parent); err != nil {
		return &rep, err
	}
	return &rep, nil
}

func (im *importer) fail(err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.fatal == nil {
		im.fatal = err
	}
}

func approxJSONSize(p *protocol.Profile) int {
	n := 48 + len(p.ID) + len(p.Region) + 16*len(p.Consents)
	for k, v := range p.Attributes {
		n += len(k) + 8
		if s, ok := v.(string); ok {
			n += len(s)
		} else {
			n += 12
		}
	}
	return n
}

// send commits rows. A profile the cluster refuses (located by its
// position) is skipped and the rest sent again; a request that is too large
// is split; an answer that refuses the request as a whole ends the import.
func (im *importer) send(ctx context.Context, w *importWorker, rows []pendingRow) error {
	for len(rows) > 0 {
		if ctx.Err() != nil {
			return nil
		}
		body, err := encodeBatch(rows)
		if err != nil {
			return err
		}
		res, err := im.api.UpsertCustomersJSON(ctx, body)
		if err == nil {
			fresh := 0
			for i := range rows {
				if _, ok := w.seen[rows[i].p.ID]; !ok {
					// A CSV id shares its memory with its whole row.
					w.seen[strings.Clone(rows[i].p.ID)] = struct{}{}
					fresh++
				}
			}
			im.mu.Lock()
			im.report.Imported += len(rows)
			im.report.Customers += fresh
			im.report.Repeated += len(rows) - fresh
			im.report.Replaced += res.Upserted - res.Created
			im.report.Index = max(im.report.Index, res.Index)
			im.mu.Unlock()
			im.prog.Committed.Add(int64(len(rows)))
			return nil
		}
		if ctx.Err() != nil {
			return nil // another worker's error ended the import
		}
		var ae *api.Error
		if requestRefused(err, len(rows)) || !errors.As(err, &ae) {
			return err
		}
		switch {
		case ae.Document != nil:
			i := *ae.Document
			im.mu.Lock()
			im.report.skip(badRow(rows[i].line, kindRefused, "%s", refusal(ae)))
			im.mu.Unlock()
			rows = append(rows[:i:i], rows[i+1:]...)
		case ae.Code == api.CodeBodyTooLarge && len(rows) > 1:
			half := len(rows) / 2
			if err := im.send(ctx, w, rows[:half]); err != nil {
				return err
			}
			rows = rows[half:]
		default:
			im.mu.Lock()
			for _, r := range rows {
				im.report.skip(badRow(r.line, kindRefused, "%s", refusal(ae)))
			}
			im.mu.Unlock()
			return nil
		}
	}
	return nil
}

// requestRefused reports whether err, the answer to a request of n
// profiles, refuses the request as a whole rather than its rows: no answer
// at all (connection, TLS, timeout), a token that is unknown or whose role
// may not import, no leader, a server error, anything but a 400 or 413.
// Every later request would be refused the same way, so the import stops.
// About the rows are: a refusal located at one of them, a body too large
// (split, or its one row skipped), and a 400 that says the profiles are
// invalid.
func requestRefused(err error, n int) bool {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return true
	}
	if ae.Document != nil {
		return *ae.Document < 0 || *ae.Document >= n
	}
	switch ae.Code {
	case api.CodeBodyTooLarge, api.CodeInvalidField, api.CodeInvalidDocument, api.CodeMissingField, api.CodeUnknownField:
		return false
	}
	return true
}

// refusal is an API error without its position in the request (the
// report gives the row's line instead).
func refusal(ae *api.Error) string {
	msg := string(ae.Code) + ": "
	if ae.Field != "" {
		msg += ae.Field + ": "
	}
	return msg + ae.Message
}

// shard is FNV-1a of a customer id.
func shard(id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return h
}

func encodeBatch(rows []pendingRow) ([]byte, error) {
	n := 2
	for i := range rows {
		n += protocol.ProfileJSONSize(&rows[i].p) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = protocol.AppendProfileJSON(b, &rows[i].p)
	}
	return append(b, ']'), nil
}

// openSource picks CSV or JSON Lines: by extension (.jsonl, .ndjson), else
// by the first non-blank byte ('{' is JSON Lines).
func openSource(name string, r *bufio.Reader, cols columns, explicitID, explicitRegion bool) (rowSource, error) {
	lower := strings.ToLower(name)
	jsonl := strings.HasSuffix(lower, ".jsonl") || strings.HasSuffix(lower, ".ndjson")
	if !jsonl && !strings.HasSuffix(lower, ".csv") {
		for i := 1; ; i++ {
			b, err := r.Peek(i)
			if len(b) < i {
				break
			}
			c := b[i-1]
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xef || c == 0xbb || c == 0xbf {
				if err != nil || i >= 4096 {
					break
				}
				continue
			}
			jsonl = c == '{'
			break
		}
	}
	if jsonl {
		return newJSONLSource(r, cols), nil
	}
	return newCSVSource(r, cols, explicitID, explicitRegion)
}
