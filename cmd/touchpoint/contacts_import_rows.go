package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/protocol"
)

// The row readers of contacts import: a purchase log in CDNOW's layout
// and CSV with a header, each turning a row into a contact event.

// detectContactsFormat reads f's first non-empty line (f is left at its
// start): a comma makes it CSV, else a purchase log.
func detectContactsFormat(f *os.File) (string, error) {
	defer func() { _, _ = f.Seek(0, io.SeekStart) }()
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadSlice('\n')
		if len(strings.TrimSpace(strings.TrimPrefix(string(line), "\ufeff"))) > 0 || err == bufio.ErrBufferFull {
			if strings.Contains(string(line), ",") {
				return contactsFormatCSV, nil
			}
			return contactsFormatLog, nil
		}
		if err == io.EOF {
			return contactsFormatLog, nil
		}
		if err != nil {
			return "", err
		}
	}
}

// logContactRows reads a purchase log: customer date(YYYYMMDD) quantity value,
// whitespace-separated, after an optional header line (a first non-empty
// line none of whose fields after the first begins with a digit).
type logContactRows struct {
	r     *bufio.Reader
	defs  importDefaults
	e     *env
	line  int
	begun bool // a non-empty line was read
}

func newLogContactRows(r io.Reader, defs importDefaults, e *env) *logContactRows {
	return &logContactRows{r: bufio.NewReaderSize(r, 64<<10), defs: defs, e: e}
}

func (l *logContactRows) fieldName(field string) string {
	switch field {
	case "customerId":
		return "customer"
	case "time":
		return "date"
	case "type", "channel", "outcome":
		return "--" + field
	}
	return field
}

// readLine returns the next line without its end; a line longer than
// maxContactsLine is a *rowProblem.
func (l *logContactRows) readLine() (string, error) {
	l.line++
	b, long, err := readBoundedLine(l.r, maxContactsLine)
	if err != nil {
		return "", err
	}
	if long {
		return "", &rowProblem{Line: l.line, Field: "row", Problem: l.e.cimsg(ciPrLong, maxContactsLine)}
	}
	return string(b), nil
}

func (l *logContactRows) next() (int, protocol.ContactEvent, error) {
	var ev protocol.ContactEvent
	for {
		s, err := l.readLine()
		if err != nil {
			return l.line, ev, err
		}
		if !l.begun {
			s = strings.TrimPrefix(s, "\ufeff")
		}
		fields := strings.Fields(s)
		if len(fields) == 0 {
			continue
		}
		if !l.begun {
			l.begun = true
			if isLogHeader(fields) {
				continue
			}
		}
		return l.line, ev, l.parse(fields, &ev)
	}
}

// isLogHeader tells a purchase log's header line (customer_id date
// number_of_cds dollar_value) from a row: no field after the first begins
// with a digit.
func isLogHeader(fields []string) bool {
	if len(fields) < 2 {
		return false
	}
	for _, f := range fields[1:] {
		if f[0] >= '0' && f[0] <= '9' {
			return false
		}
	}
	return true
}

func (l *logContactRows) parse(f []string, ev *protocol.ContactEvent) error {
	bad := func(field, problem string) error { return &rowProblem{Line: l.line, Field: field, Problem: problem} }
	if len(f) != 4 {
		return bad("row", l.e.cimsg(ciPrFields, len(f)))
	}
	if !utf8.ValidString(f[0]) {
		return bad("customer", l.e.cimsg(ciPrUTF8))
	}
	ev.CustomerID = f[0]
	t, ok := parseLogDate(f[1])
	if !ok {
		return bad("date", l.e.cimsg(ciPrDate, truncate(f[1])))
	}
	ev.Time = t
	if q, err := strconv.ParseFloat(f[2], 64); err != nil || math.IsNaN(q) || math.IsInf(q, 0) {
		return bad("quantity", l.e.cimsg(ciPrNumber, truncate(f[2])))
	}
	v, err := strconv.ParseFloat(f[3], 64)
	if err != nil {
		return bad("value", l.e.cimsg(ciPrNumber, truncate(f[3])))
	}
	ev.Value = v
	ev.Type, ev.Channel, ev.Outcome = l.defs.typ, l.defs.channel, l.defs.outcome
	return nil
}

// parseLogDate reads YYYYMMDD as midnight UTC.
func parseLogDate(s string) (time.Time, bool) {
	if len(s) != 8 {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation("20060102", s, time.UTC)
	return t, err == nil
}

// csvContactRows reads a CSV file with a header row.
type csvContactRows struct {
	r     *csv.Reader
	e     *env
	width int            // columns in the header
	at    map[string]int // event field → column
	names map[string]string
	defs  importDefaults
}

// The event fields a CSV column may fill, by their column names.
var csvOptionalColumns = []string{"type", "channel", "outcome", "offerId", "campaignId"}

// newCSVContactRows reads the header of a CSV file and tells each column's role;
// it answers the columns it ignores.
func newCSVContactRows(r io.Reader, cols importColumns, defs importDefaults, e *env, file string) (*csvContactRows, []string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New(e.cimsg(ciNoRows, file))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read the header: %w", file, err)
	}
	names := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = headerCell(i, h)
		if h == "" {
			return nil, nil, errors.New(e.cimsg(ciHeaderEmpty, file, i+1))
		}
		if seen[strings.ToLower(h)] {
			return nil, nil, errors.New(e.cimsg(ciColumnTwice, file, h))
		}
		seen[strings.ToLower(h)] = true
		names[i] = h
	}
	find := func(name string) int {
		return slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
	}
	rows := &csvContactRows{r: cr, e: e, width: len(header), at: map[string]int{}, names: map[string]string{}, defs: defs}
	role := map[int]string{} // column → event field
	take := func(field string, i int) error {
		if prev, ok := role[i]; ok {
			return errors.New(e.cimsg(ciColumnTwoRoles, file, names[i], prev, field))
		}
		role[i], rows.at[field], rows.names[field] = field, i, names[i]
		return nil
	}
	for _, m := range []struct {
		field, flag, given, what string
		defaults                 []string
		required                 bool
	}{
		{"customerId", "customer-column", cols.customer, "customer", customerColumns, true},
		{"time", "time-column", cols.time, "time", timeColumns, true},
		{"value", "value-column", cols.value, "value", valueColumns, false},
	} {
		if m.given != "" {
			i := find(m.given)
			if i < 0 {
				return nil, nil, errors.New(e.cimsg(ciNoColumn, file, m.given, m.flag))
			}
			if err := take(m.field, i); err != nil {
				return nil, nil, err
			}
			continue
		}
		i := -1
		for _, n := range m.defaults {
			if j := find(n); j >= 0 {
				if _, taken := role[j]; !taken {
					i = j
					break
				}
			}
		}
		if i < 0 {
			if m.required {
				return nil, nil, errors.New(e.cimsg(ciNoDefaultColumn, file, m.what, strings.Join(m.defaults, ", "), m.flag))
			}
			continue
		}
		if err := take(m.field, i); err != nil {
			return nil, nil, err
		}
	}
	for _, field := range csvOptionalColumns {
		if i := find(field); i >= 0 {
			if _, taken := role[i]; !taken {
				_ = take(field, i)
			}
		}
	}
	var ignored []string
	for i, n := range names {
		if _, ok := role[i]; !ok {
			ignored = append(ignored, n)
		}
	}
	return rows, ignored, nil
}

func (c *csvContactRows) fieldName(field string) string {
	if n, ok := c.names[field]; ok {
		return n
	}
	switch field {
	case "type", "channel", "outcome":
		return "--" + field
	}
	return field
}

func (c *csvContactRows) next() (int, protocol.ContactEvent, error) {
	var ev protocol.ContactEvent
	for {
		rec, err := c.r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return pe.StartLine, ev, &rowProblem{Line: pe.StartLine, Field: "row", Problem: pe.Err.Error()}
			}
			return 0, ev, err
		}
		line, _ := c.r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a line of spaces
		}
		return line, ev, c.parse(rec, line, &ev)
	}
}

func (c *csvContactRows) parse(rec []string, line int, ev *protocol.ContactEvent) error {
	if len(rec) != c.width {
		return &rowProblem{Line: line, Field: "row", Problem: c.e.cimsg(ciPrColumns, len(rec), c.width)}
	}
	get := func(field string) (string, bool) {
		i, ok := c.at[field]
		if !ok {
			return "", false
		}
		return strings.TrimSpace(rec[i]), true
	}
	bad := func(field, problem string) error {
		return &rowProblem{Line: line, Field: c.fieldName(field), Problem: problem}
	}
	for _, i := range c.at {
		if !utf8.ValidString(rec[i]) {
			for f, j := range c.at {
				if j == i {
					return bad(f, c.e.cimsg(ciPrUTF8))
				}
			}
		}
	}
	ev.CustomerID, _ = get("customerId")
	if s, _ := get("time"); s != "" {
		t, ok := parseCSVTime(s)
		if !ok {
			return bad("time", c.e.cimsg(ciPrTime, truncate(s)))
		}
		ev.Time = t
	}
	if s, _ := get("value"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad("value", c.e.cimsg(ciPrNumber, truncate(s)))
		}
		ev.Value = v
	}
	ev.Type, ev.Channel, ev.Outcome = c.defs.typ, c.defs.channel, c.defs.outcome
	if s, _ := get("type"); s != "" {
		ev.Type = s
	}
	if s, _ := get("channel"); s != "" {
		ev.Channel = s
	}
	if s, _ := get("outcome"); s != "" {
		ev.Outcome = s
	}
	ev.OfferID, _ = get("offerId")
	ev.CampaignID, _ = get("campaignId")
	return nil
}

// parseCSVTime reads a time in one of csvTimeLayouts, in UTC.
func parseCSVTime(s string) (time.Time, bool) {
	for _, l := range csvTimeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
