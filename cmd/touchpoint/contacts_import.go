package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// `touchpoint contacts import FILE --source NAME` loads a purchase history
// (or any contact log) into the contact ledger through POST
// /v1/contacts/import. The file is read twice: the first pass checks every
// row and sends nothing when one is bad; the second sends the rows after
// the ones the cluster already holds for the source (its highest row
// number, from GET /v1/contacts/stats), in order, one batch at a time, so
// that the server's sequence rule (api.ContactsImport) keeps a source
// append-only and an interrupted import resumes where it stopped.

// File formats of contacts import.
const (
	contactsFormatLog = "log" // whitespace-separated: customer date(YYYYMMDD) quantity value
	contactsFormatCSV = "csv"
)

const (
	// defaultImportBatch is the rows of one request.
	defaultImportBatch = 5000
	// maxImportProblems is how many bad rows are listed.
	maxImportProblems = 20
	// contactsCheckLimit is how many of a customer's contacts the check
	// of the last stored row reads.
	contactsCheckLimit = 1000
	// maxContactsLine bounds one line of a purchase log.
	maxContactsLine = 1 << 20
)

// CSV columns contacts import reads, and the names each one goes by when no
// flag names it (compared without case, the first present wins).
var (
	customerColumns = []string{"customerId", "customer_id", "customer", "id"}
	timeColumns     = []string{"time", "date", "timestamp", "datetime"}
	valueColumns    = []string{"value", "amount", "spend", "total"}
)

// csvTimeLayouts are the times a CSV file's time column may hold; the
// layouts without a zone are read as UTC.
var csvTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02", "20060102"}

func contactsImportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "load a purchase history (CDNOW-style log or CSV) into the contact ledger as source NAME",
		ArgsUsage: "FILE --source NAME",
		Description: "Reads FILE, a whitespace-separated purchase log in CDNOW's layout (customer date(YYYYMMDD) quantity\n" +
			"value, after an optional header line) or a CSV file with a header row, and stores its rows in the contact\n" +
			"ledger under the ledger id import.NAME. The first non-empty line tells the format (a comma means CSV);\n" +
			"--format overrides it. A log row is a transaction at midnight UTC of its date, worth its value; the\n" +
			"quantity is checked and not stored.\n\n" +
			"CSV columns, named in any case: the customer (--customer-column; default the first of customerId,\n" +
			"customer_id, customer, id), the time (--time-column; time, date, timestamp or datetime: RFC 3339,\n" +
			"2006-01-02, 2006-01-02 15:04:05 or 20060102, UTC when no zone is given), the value in yuan (--value-column;\n" +
			"value, amount, spend or total; optional), and optional type, channel, outcome, offerId and campaignId.\n" +
			"Other columns are ignored. Rows without a type, channel or outcome get --type, --channel and --outcome.\n\n" +
			"Every row is checked before anything is sent: if one is bad, nothing is sent and the first 20 bad\n" +
			"rows are listed.\n\n" +
			"A source is append-only. Its data rows are numbered 1, 2, 3… in file order (blank lines and the header\n" +
			"are not counted), and a row's number is its sequence in the ledger, so each row is stored once: the same\n" +
			"file imported again sends nothing, a longer version of it (rows appended at the end) sends only the new\n" +
			"rows, and an import that stopped midway resumes when the same command is run again. Never edit,\n" +
			"reorder or remove rows of a file already imported: import a changed file under a new --source.\n\n" +
			"Profiles are separate. segments run computes RFM and lifetime value for the customers that have a\n" +
			"profile, so import their ids with customers import too (a CSV with one customerId column will do), and\n" +
			"score a past history as of its own end: segments run --as-of DATE (docs/SEGMENTS.md).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "source", Required: true, Usage: fmt.Sprintf("source `NAME`: the rows are stored as import.NAME (1 to %d ASCII letters, digits, '-', '_' or '.')", api.MaxImportSource)},
			&cli.StringFlag{Name: "format", Usage: "file `FORMAT`: log (customer date quantity value, whitespace-separated) or csv; default: told by the first line"},
			&cli.StringFlag{Name: "customer-column", Usage: "CSV `COLUMN` of the customer id (default the first of customerId, customer_id, customer, id)"},
			&cli.StringFlag{Name: "time-column", Usage: "CSV `COLUMN` of the time (default the first of time, date, timestamp, datetime)"},
			&cli.StringFlag{Name: "value-column", Usage: "CSV `COLUMN` of the value in yuan (default the first of value, amount, spend, total; optional)"},
			&cli.StringFlag{Name: "type", Value: protocol.ContactTransaction, Usage: "contact `TYPE` of rows that name none: " + strings.Join(protocol.ContactTypes, ", ")},
			&cli.StringFlag{Name: "channel", Value: api.ChannelStore, Usage: "`CHANNEL` of rows that name none: " + strings.Join(api.ImportChannels, ", ")},
			&cli.StringFlag{Name: "outcome", Value: protocol.OutcomeAccepted, Usage: "`OUTCOME` of rows that name none: presented, accepted, declined or ignored"},
			&cli.IntFlag{Name: "batch", Value: defaultImportBatch, Usage: fmt.Sprintf("rows per request, `N` from 1 to %d", api.MaxImportEvents)},
			outputFlag(),
		},
		Action: func(c *cli.Context) error { return e.importContactsFile(c) },
	}
}

// The strings of contacts import (contactsMessages holds the other
// contact commands').
type contactsImportKey int

const (
	ciChecking contactsImportKey = iota
	ciIgnored
	ciBadRow
	ciBadMore
	ciBadRows
	ciNoRows
	ciTooShort
	ciMismatch
	ciImported
	ciAllStored
	ciPartial
	ciPartialAtLeast
	ciChanged
	ciBadSource
	ciBadFormat
	ciBadDefault
	ciHoldoutDefault
	ciColumnFlagLog
	ciNoColumn
	ciNoDefaultColumn
	ciColumnTwice
	ciColumnTwoRoles
	ciHeaderEmpty
	ciPrFields
	ciPrColumns
	ciPrDate
	ciPrTime
	ciPrNumber
	ciPrUTF8
	ciPrLong
)

var contactsImportMessages = map[string]map[contactsImportKey]string{
	"en": {
		ciChecking:        "checking %s: %d rows",
		ciIgnored:         "ignored columns of %s: %s",
		ciBadRow:          "line %d: %s: %s",
		ciBadMore:         "… %s more not listed",
		ciBadRows:         "%s: bad rows: %d of %d (listed above); nothing was sent",
		ciNoRows:          "%s holds no rows",
		ciTooShort:        "the cluster holds rows 1–%d of source %s, but %s has only %d: the wrong file or the wrong --source? Rows are only ever appended to a source; import a different file under a new --source",
		ciMismatch:        "row %d of %s (line %d) is not row %d of source %s as the cluster holds it (%s differs): the file is not the one imported under this source, or its rows were changed; import it under a new --source",
		ciImported:        "imported %s from %s as source %s (%d already stored); the ledger holds rows 1–%d of %s (index %d)",
		ciAllStored:       "all %s of %s were already stored as source %s: nothing sent; the ledger holds rows 1–%d of %s",
		ciPartial:         "the ledger holds rows 1–%d of %s (%d of %s's %d rows); run the same command again to resume",
		ciPartialAtLeast:  "the ledger holds at least rows 1–%d of %s (%d of %s's %d rows); run the same command again to resume",
		ciChanged:         "%s changed while it was imported (%s); run the command again",
		ciBadSource:       "--source %q: 1 to %d ASCII letters, digits, '-', '_' or '.'",
		ciBadFormat:       "--format %q: use log or csv",
		ciBadDefault:      "--%s %q: use one of %s",
		ciHoldoutDefault:  "--outcome holdout: holdout contacts are the agents' record of their control groups and cannot be imported",
		ciColumnFlagLog:   "--%s names a CSV column, and %s is a purchase log (customer date quantity value)",
		ciNoColumn:        "%s: the header has no column %q (--%s)",
		ciNoDefaultColumn: "%s: the header has no %s column (%s); name it with --%s",
		ciColumnTwice:     "%s: column %q appears twice in the header",
		ciColumnTwoRoles:  "%s: column %q cannot be both the %s and the %s",
		ciHeaderEmpty:     "%s: column %d of the header has no name",
		ciPrFields:        "%d fields; a purchase log row is: customer date(YYYYMMDD) quantity value",
		ciPrColumns:       "%d columns, the header has %d",
		ciPrDate:          "%q is not a date: want YYYYMMDD",
		ciPrTime:          "%q is not a time: use RFC 3339, 2006-01-02, 2006-01-02 15:04:05 or 20060102",
		ciPrNumber:        "%q is not a number",
		ciPrUTF8:          "invalid UTF-8",
		ciPrLong:          "longer than %d bytes",
	},
	"zh": {
		ciChecking:        "正在检查 %s：%d 行",
		ciIgnored:         "%s 中被忽略的列：%s",
		ciBadRow:          "第 %d 行：%s：%s",
		ciBadMore:         "……另有 %s 未列出",
		ciBadRows:         "%s：有误的行：%d 行（共 %d 行，见上）；未发送任何数据",
		ciNoRows:          "%s 中没有数据行",
		ciTooShort:        "集群已存有来源 %[2]s 的第 1–%[1]d 行，但 %[3]s 只有 %[4]d 行：文件或 --source 是否有误？来源的行只能追加；其他文件请用新的 --source 导入",
		ciMismatch:        "%[2]s 的第 %[1]d 行（文件第 %[3]d 行）与集群存有的来源 %[5]s 第 %[4]d 行不同（%[6]s 不同）：该文件不是此来源导入过的文件，或其中的行已被修改；请用新的 --source 导入",
		ciImported:        "已从 %[2]s 导入 %[1]s，来源 %[3]s（%[4]d 行此前已存储）；台账存有 %[6]s 的第 1–%[5]d 行（索引 %[7]d）",
		ciAllStored:       "%[2]s 的全部 %[1]s此前已存储为来源 %[3]s：未发送任何数据；台账存有 %[5]s 的第 1–%[4]d 行",
		ciPartial:         "台账存有 %[2]s 的第 1–%[1]d 行（%[4]s 共 %[5]d 行中的 %[3]d 行）；再次运行同一命令即可继续",
		ciPartialAtLeast:  "台账至少存有 %[2]s 的第 1–%[1]d 行（%[4]s 共 %[5]d 行中的 %[3]d 行）；再次运行同一命令即可继续",
		ciChanged:         "%s 在导入过程中被修改（%s）；请重新运行命令",
		ciBadSource:       "--source %q：1 到 %d 个 ASCII 字母、数字、'-'、'_' 或 '.'",
		ciBadFormat:       "--format %q：请用 log 或 csv",
		ciBadDefault:      "--%s %q：请用以下之一：%s",
		ciHoldoutDefault:  "--outcome holdout：holdout 是代理对其对照组的记录，不能导入",
		ciColumnFlagLog:   "--%s 指定的是 CSV 列，而 %s 是购买记录（customer date quantity value）",
		ciNoColumn:        "%s：表头中没有列 %q（--%s）",
		ciNoDefaultColumn: "%s：表头中没有%s列（%s）；请用 --%s 指定",
		ciColumnTwice:     "%s：列 %q 在表头中出现两次",
		ciColumnTwoRoles:  "%s：列 %q 不能既是 %s 又是 %s",
		ciHeaderEmpty:     "%s：表头第 %d 列没有名称",
		ciPrFields:        "%d 个字段；购买记录的一行是：customer date(YYYYMMDD) quantity value",
		ciPrColumns:       "%d 列，表头有 %d 列",
		ciPrDate:          "%q 不是日期：应为 YYYYMMDD",
		ciPrTime:          "%q 不是时间：请用 RFC 3339、2006-01-02、2006-01-02 15:04:05 或 20060102",
		ciPrNumber:        "%q 不是数字",
		ciPrUTF8:          "不是有效的 UTF-8",
		ciPrLong:          "超过 %d 字节",
	},
}

func (e *env) cimsg(k contactsImportKey, args ...any) string {
	return translate(e, contactsImportMessages, k, args...)
}

// contactsImportReport is what contacts import prints (-o json as it is).
type contactsImportReport struct {
	File     string `json:"file"`
	Source   string `json:"source"`
	LedgerID string `json:"ledgerId"`
	// Rows is the file's data rows; Stored the rows this run stored;
	// Duplicates the rows of the file the cluster held before (not sent,
	// or dropped by the cluster as already stored).
	Rows       int    `json:"rows"`
	Stored     int    `json:"stored"`
	Duplicates int    `json:"duplicates"`
	HighestSeq uint64 `json:"highestSeq"`
	// Index is the Raft index of the last batch stored (0: none sent).
	Index uint64 `json:"index"`
}

// importDefaults are the fields of rows that do not name them.
type importDefaults struct {
	typ, channel, outcome string
}

// importColumns are the CSV column flags, "" when not given.
type importColumns struct {
	customer, time, value string
}

// rowProblem is a bad row: its line, the field (the file's name for it)
// and what is wrong.
type rowProblem struct {
	Line    int
	Field   string
	Problem string
}

func (p *rowProblem) Error() string {
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Problem)
}

// contactRows reads a file's data rows in order.
type contactRows interface {
	// next returns the next data row's line and event (Seq and AgentID
	// not set), a *rowProblem for a bad row (reading goes on after it),
	// io.EOF after the last row, or another error that ends the reading.
	next() (int, protocol.ContactEvent, error)
	// fieldName is the file's name of an event field (a CheckImportEvent
	// field).
	fieldName(field string) string
}

// importContactsFile is `touchpoint contacts import FILE --source NAME`.
func (e *env) importContactsFile(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	a, err := args(c, 1, 1, "FILE --source NAME [--format log|csv] [--batch N]")
	if err != nil {
		return err
	}
	file, source := a[0], c.String("source")
	if len(source) > api.MaxImportSource || !protocol.ValidAgentID(source) {
		return usageError(errors.New(e.cimsg(ciBadSource, source, api.MaxImportSource)))
	}
	batch, err := intFlag(c, "batch", 1, api.MaxImportEvents)
	if err != nil {
		return err
	}
	fmtName := c.String("format")
	switch fmtName {
	case "", contactsFormatLog, contactsFormatCSV:
	default:
		return usageError(errors.New(e.cimsg(ciBadFormat, fmtName)))
	}
	defs := importDefaults{typ: c.String("type"), channel: c.String("channel"), outcome: c.String("outcome")}
	if err := e.checkImportDefaults(defs); err != nil {
		return err
	}
	cols := importColumns{customer: c.String("customer-column"), time: c.String("time-column"), value: c.String("value-column")}
	f, err := os.Open(file)
	if err != nil {
		return err // "open FILE: why"
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", file, err)
	}
	if fmtName == "" {
		if fmtName, err = detectContactsFormat(f); err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
	}
	if fmtName == contactsFormatLog {
		for _, fl := range []struct{ name, v string }{{"customer-column", cols.customer}, {"time-column", cols.time}, {"value-column", cols.value}} {
			if fl.v != "" {
				return usageError(errors.New(e.cimsg(ciColumnFlagLog, fl.name, file)))
			}
		}
	}
	im := &contactsImport{e: e, file: file, format: fmtName, cols: cols, defs: defs, now: time.Now(), size: st.Size()}

	// First pass: every row is checked, nothing is sent.
	rows, err := im.check(f)
	if err != nil {
		return err
	}

	cl := client(c)
	rep := &contactsImportReport{File: file, Source: source, LedgerID: api.ImportLedgerID(source), Rows: rows}
	held, err := ledgerHighest(c.Context, cl, rep.LedgerID)
	if err != nil {
		return err
	}
	rep.HighestSeq = held
	if held > uint64(rows) {
		return &cliError{code: codeInvalidInput, err: errors.New(e.cimsg(ciTooShort, held, source, file, rows))}
	}

	// Second pass: the rows after those the cluster holds (none when it
	// holds them all: the pass checks the last one it holds).
	if now, err := os.Stat(file); err != nil || now.Size() != st.Size() || !now.ModTime().Equal(st.ModTime()) {
		return &cliError{code: codeInvalidInput, err: errors.New(e.cimsg(ciChanged, file, "size or modification time"))}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	s := &contactsSender{api: cl, source: source, batch: batch, rep: rep}
	rep.Duplicates = int(held)
	if err := im.send(c.Context, f, s, held, rows); err != nil {
		if s.sent {
			e.reportPartial(c.Context, cl, rep, err)
		}
		return err
	}
	if out == "json" {
		return e.printJSON(rep)
	}
	if !s.sent {
		fmt.Fprintln(e.stdout, e.cimsg(ciAllStored, e.countOf(rows, msgImportOneRow, msgImportRows), file, source, rep.HighestSeq, rep.LedgerID))
		return nil
	}
	fmt.Fprintln(e.stdout, e.cimsg(ciImported, e.countOf(rep.Stored, msgImportOneRow, msgImportRows), file, source, rep.Duplicates, rep.HighestSeq, rep.LedgerID, rep.Index))
	return nil
}

// checkImportDefaults refuses a --type, --channel or --outcome no row may
// carry.
func (e *env) checkImportDefaults(d importDefaults) error {
	outcomes := slices.DeleteFunc(slices.Clone(protocol.Outcomes), func(o string) bool { return o == protocol.OutcomeHoldout })
	switch {
	case !slices.Contains(protocol.ContactTypes, d.typ):
		return usageError(errors.New(e.cimsg(ciBadDefault, "type", d.typ, strings.Join(protocol.ContactTypes, ", "))))
	case !slices.Contains(api.ImportChannels, d.channel):
		return usageError(errors.New(e.cimsg(ciBadDefault, "channel", d.channel, strings.Join(api.ImportChannels, ", "))))
	case d.outcome == protocol.OutcomeHoldout:
		return usageError(errors.New(e.cimsg(ciHoldoutDefault)))
	case !slices.Contains(outcomes, d.outcome):
		return usageError(errors.New(e.cimsg(ciBadDefault, "outcome", d.outcome, strings.Join(outcomes, ", "))))
	}
	return nil
}

// ledgerHighest is the highest sequence the cluster holds for a ledger
// id, 0 when it holds none.
func ledgerHighest(ctx context.Context, cl *api.Client, id string) (uint64, error) {
	st, err := cl.ContactStats(ctx)
	if err != nil {
		return 0, err
	}
	for _, a := range st.Agents {
		if a.AgentID == id {
			return a.HighestSequence, nil
		}
	}
	return 0, nil
}

// reportPartial says, after err ended an import midway, which rows the
// cluster holds: its own figure when it answers, else the last one it gave
// (a request without an answer may have committed). It says nothing when
// the cluster holds no row of the source, or refused this run's first
// request (the error says it all).
func (e *env) reportPartial(ctx context.Context, cl *api.Client, rep *contactsImportReport, err error) {
	var ae *api.Error
	if rep.Stored == 0 && errors.As(err, &ae) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if held, err := ledgerHighest(ctx, cl, rep.LedgerID); err == nil && held >= rep.HighestSeq {
		if held > 0 {
			fmt.Fprintln(e.stderr, e.cimsg(ciPartial, held, rep.LedgerID, held, rep.File, rep.Rows))
		}
		return
	}
	if rep.HighestSeq > 0 {
		fmt.Fprintln(e.stderr, e.cimsg(ciPartialAtLeast, rep.HighestSeq, rep.LedgerID, rep.HighestSeq, rep.File, rep.Rows))
	}
}

// contactsImport is one run of contacts import over one file.
type contactsImport struct {
	e      *env
	file   string
	format string
	cols   importColumns
	defs   importDefaults
	now    time.Time // the clock rows are checked against
	size   int64
}

// open reads the file's rows from r; quiet leaves out the note on ignored
// columns (the second pass).
func (im *contactsImport) open(r io.Reader, quiet bool) (contactRows, error) {
	if im.format == contactsFormatLog {
		return newLogContactRows(r, im.defs, im.e), nil
	}
	rows, ignored, err := newCSVContactRows(r, im.cols, im.defs, im.e, im.file)
	if err != nil {
		return nil, err
	}
	if len(ignored) > 0 && !quiet {
		fmt.Fprintln(im.e.stderr, im.e.cimsg(ciIgnored, im.file, strings.Join(ignored, ", ")))
	}
	return rows, nil
}

// scan reads every row of rows, numbers the data rows from 1 and checks
// each (api.CheckImportEvent); fn gets the good ones, bad the bad ones. An
// error from either ends the scan. It answers the number of data rows.
func (im *contactsImport) scan(rows contactRows, fn func(line int, ev *protocol.ContactEvent) error, bad func(p *rowProblem) error) (int, error) {
	n := 0
	for {
		line, ev, err := rows.next()
		if err == io.EOF {
			return n, nil
		}
		var p *rowProblem
		if err != nil && !errors.As(err, &p) {
			return n, fmt.Errorf("read %s: %w", im.file, err)
		}
		n++
		ev.Seq = uint64(n)
		if p == nil {
			if field, problem := api.CheckImportEvent(&ev, im.now); field != "" {
				p = &rowProblem{Line: line, Field: rows.fieldName(field), Problem: problem}
			}
		}
		if p != nil {
			err = bad(p)
		} else {
			err = fn(line, &ev)
		}
		if err != nil {
			return n, err
		}
	}
}

// check is the first pass: it reads the whole file and answers its number
// of rows, or lists the bad rows and refuses the file.
func (im *contactsImport) check(f *os.File) (int, error) {
	cr := &countingReader{r: f}
	rows, err := im.open(cr, false)
	if err != nil {
		return 0, &cliError{code: codeInvalidInput, err: err}
	}
	var n atomic.Int64 // rows checked, for the progress line
	stop := func() {}
	if isTerminal(im.e.stderr) {
		stop = im.e.drawChecking(im.file, &n, cr, im.size)
	}
	var problems []*rowProblem
	badRows := 0
	total, err := im.scan(rows, func(int, *protocol.ContactEvent) error {
		n.Add(1)
		return nil
	}, func(p *rowProblem) error {
		badRows++
		if len(problems) < maxImportProblems {
			problems = append(problems, p)
		}
		return nil
	})
	stop()
	if err != nil {
		return 0, err
	}
	if badRows > 0 {
		for _, p := range problems {
			fmt.Fprintln(im.e.stderr, im.e.cimsg(ciBadRow, p.Line, p.Field, p.Problem))
		}
		if more := badRows - len(problems); more > 0 {
			fmt.Fprintln(im.e.stderr, im.e.cimsg(ciBadMore, im.e.countOf(more, msgImportOneRow, msgImportRows)))
		}
		return 0, &cliError{code: codeInvalidInput, err: errors.New(im.e.cimsg(ciBadRows, im.file, badRows, total))}
	}
	if total == 0 {
		return 0, &cliError{code: codeInvalidInput, err: errors.New(im.e.cimsg(ciNoRows, im.file))}
	}
	return total, nil
}

// send is the second pass: it reads the file again and sends the rows
// after held, checking first that row held is the one the cluster holds.
func (im *contactsImport) send(ctx context.Context, f *os.File, s *contactsSender, held uint64, total int) error {
	cr := &countingReader{r: f}
	rows, err := im.open(cr, true)
	if err != nil {
		return &cliError{code: codeInvalidInput, err: errors.New(im.e.cimsg(ciChanged, im.file, err.Error()))}
	}
	s.prog = &importProgress{}
	stop := func() {}
	if isTerminal(im.e.stderr) {
		stop = im.e.drawProgress(s.prog, cr, im.size)
	}
	defer stop()
	n, err := im.scan(rows, func(line int, ev *protocol.ContactEvent) error {
		s.prog.Read.Add(1)
		switch {
		case ev.Seq < held:
			return nil
		case ev.Seq == held:
			return im.sameAsStored(ctx, s, line, ev)
		}
		return s.add(ctx, ev)
	}, func(p *rowProblem) error {
		return &cliError{code: codeInvalidInput, err: errors.New(im.e.cimsg(ciChanged, im.file, p.Error()))}
	})
	if err != nil {
		return err
	}
	if n != total {
		return &cliError{code: codeInvalidInput, err: errors.New(im.e.cimsg(ciChanged, im.file, fmt.Sprintf("%d rows, then %d", total, n)))}
	}
	return s.flush(ctx)
}

// sameAsStored checks that the last row the cluster holds for the source
// is this file's row of that number: a longer file that is not the one
// imported would otherwise have its tail appended to another file's rows.
// The check is a cheap guard, not a proof: a row the ledger does not find
// among the customer's first contactsCheckLimit from its time (the
// customer erased since, or thousands of contacts at that instant) passes.
func (im *contactsImport) sameAsStored(ctx context.Context, s *contactsSender, line int, ev *protocol.ContactEvent) error {
	evs, err := s.api.Contacts(ctx, ev.CustomerID, ev.Time.UTC().Format(time.RFC3339Nano), contactsCheckLimit)
	if err != nil {
		return err
	}
	id := api.ImportLedgerID(s.source)
	for i := range evs {
		got := &evs[i]
		if got.AgentID != id || got.Seq != ev.Seq {
			continue
		}
		for _, d := range []struct {
			field string
			same  bool
		}{
			{"customerId", got.CustomerID == ev.CustomerID},
			{"time", got.Time.Equal(ev.Time)},
			{"type", got.Type == ev.Type},
			{"channel", got.Channel == ev.Channel},
			{"outcome", got.Outcome == ev.Outcome},
			{"value", got.Value == ev.Value},
			{"offerId", got.OfferID == ev.OfferID},
			{"campaignId", got.CampaignID == ev.CampaignID},
		} {
			if !d.same {
				return &cliError{code: codeInvalidInput, err: errors.New(im.e.cimsg(ciMismatch, ev.Seq, im.file, line, ev.Seq, s.source, d.field))}
			}
		}
		return nil
	}
	return nil
}

// contactsSender sends a source's rows in batches, one request at a time.
type contactsSender struct {
	api interface {
		ImportContacts(ctx context.Context, req api.ContactsImport) (*api.ContactsImportResult, error)
		Contacts(ctx context.Context, customer, since string, limit int) ([]protocol.ContactEvent, error)
	}
	source  string
	batch   int
	pending []protocol.ContactEvent
	rep     *contactsImportReport
	prog    *importProgress
	sent    bool // a request was sent: the cluster may hold some rows of this run
}

func (s *contactsSender) add(ctx context.Context, ev *protocol.ContactEvent) error {
	s.pending = append(s.pending, *ev)
	if len(s.pending) < s.batch {
		return nil
	}
	return s.flush(ctx)
}

func (s *contactsSender) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.post(ctx, s.pending)
	s.pending = s.pending[:0]
	return err
}

// post sends rows; a request too large for the cluster is split in two.
func (s *contactsSender) post(ctx context.Context, evs []protocol.ContactEvent) error {
	s.sent = true
	res, err := s.api.ImportContacts(ctx, api.ContactsImport{Source: s.source, Events: evs})
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeBodyTooLarge && len(evs) > 1 {
		half := len(evs) / 2
		if err := s.post(ctx, evs[:half]); err != nil {
			return err
		}
		return s.post(ctx, evs[half:])
	}
	if err != nil {
		return err
	}
	s.rep.Stored += res.Stored
	s.rep.Duplicates += res.Duplicates
	s.rep.HighestSeq = res.HighestSeq
	s.rep.Index = res.Index
	if s.prog != nil {
		s.prog.Committed.Add(int64(res.Stored))
	}
	return nil
}

// drawChecking redraws "checking FILE: N rows" on the terminal until the
// returned function is called.
func (e *env) drawChecking(file string, n *atomic.Int64, cr *countingReader, size int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	draw := func() {
		bar := ""
		if size > 0 {
			frac := min(float64(cr.n.Load())/float64(size), 1)
			const width = 30
			k := int(frac * width)
			bar = fmt.Sprintf("[%s%s] %3.0f%%  ", strings.Repeat("=", k), strings.Repeat(" ", width-k), frac*100)
		}
		fmt.Fprintf(e.stderr, "\r%s%s\033[K", bar, e.cimsg(ciChecking, file, n.Load()))
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(e.stderr, "\r\033[K")
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
