package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/urfave/cli/v2"
)

// importCustomersFile is `touchpoint customers import FILE`. An error
// that ends the import (the cluster refuses the requests, stops
// answering, the file cannot be read) is printed alone, as every command
// prints its error: a summary of the rows read before it would read as
// the file's outcome. If rows were committed before it, one line on
// stderr says how many: at least, as the requests in flight are
// cancelled and one may have committed without its answer arriving.
func (e *env) importCustomersFile(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	a, err := args(c, 1, 1, "FILE [--id-column NAME] [--region-column NAME]")
	if err != nil {
		return err
	}
	f, err := os.Open(a[0])
	if err != nil {
		return err // "open FILE: why"
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	cr := &countingReader{r: f}
	br := bufio.NewReaderSize(cr, 256<<10)
	cols := newColumns(c.String("id-column"), c.String("region-column"))
	src, err := openSource(a[0], br, cols, c.IsSet("id-column"), c.IsSet("region-column"))
	if err != nil {
		return fmt.Errorf("%s: %w", a[0], err)
	}
	var prog importProgress
	stop := func() {}
	if isTerminal(e.stderr) {
		stop = e.drawProgress(&prog, cr, size)
	}
	rep, err := runImport(c.Context, src, client(c), importConfig{}, &prog)
	stop()
	if err != nil {
		if rep.Imported > 0 {
			fmt.Fprintln(e.stderr, e.msg(msgImportPartial, rep.Imported, rep.Index))
		}
		return err
	}
	if err := e.printImportReport(rep, out); err != nil {
		return err
	}
	if rep.Imported == 0 {
		return errors.New(e.msg(msgImportNothing))
	}
	return nil
}

// countOf is n and its noun, from the messages for one and for n ("1 row",
// "2 rows").
func (e *env) countOf(n int, one, many msgKey) string {
	if n == 1 {
		return e.msg(one)
	}
	return e.msg(many, n)
}

// maxImportTextErrors is how many skipped rows the text summary lists.
const maxImportTextErrors = 20

// printImportReport prints the outcome of an import that ran to the end
// of the file.
func (e *env) printImportReport(rep *importReport, out string) error {
	if rep.Errors == nil {
		rep.Errors = []rowError{}
	}
	if out == "json" {
		return e.printJSON(rep)
	}
	skipped := e.countOf(rep.Skipped, msgImportOneRow, msgImportRows)
	if rep.Repeated == 0 {
		fmt.Fprintln(e.stdout, e.msg(msgImportSummary, e.countOf(rep.Imported, msgImportOneCustomer, msgImportCustomers), skipped, rep.Index))
	} else {
		fmt.Fprintln(e.stdout, e.msg(msgImportSummaryRepeats,
			e.countOf(rep.Imported, msgImportOneRow, msgImportRows),
			e.countOf(rep.Customers, msgImportOneCustomer, msgImportCustomers),
			e.countOf(rep.Repeated, msgImportOneRepeat, msgImportRepeats),
			skipped, rep.Index))
	}
	if rep.Replaced > 0 {
		fmt.Fprintln(e.stdout, e.msg(msgImportReplaceNote, e.countOf(rep.Replaced, msgImportOneRow, msgImportRows)))
	}
	if rep.Skipped == 0 {
		return nil
	}
	fmt.Fprintln(e.stdout, e.msg(msgImportByReason))
	tw := e.table()
	kinds := sortedKeys(rep.byKind)
	slices.SortStableFunc(kinds, func(a, b string) int { return rep.byKind[b] - rep.byKind[a] })
	for _, k := range kinds {
		fmt.Fprintf(tw, "  %s\t%d\n", k, rep.byKind[k])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, e.msg(msgImportFirstSkipped))
	listed := 0 // rows the listed errors skip
	for i, re := range rep.Errors {
		if i == maxImportTextErrors {
			break
		}
		if re.LastLine > re.Line {
			fmt.Fprintln(e.stdout, "  "+e.msg(msgImportLines, re.Line, re.LastLine, re.Reason))
		} else {
			fmt.Fprintln(e.stdout, "  "+e.msg(msgImportLine, re.Line, re.Reason))
		}
		listed += re.rows()
	}
	if more := rep.Skipped - listed; more > 0 {
		fmt.Fprintln(e.stdout, "  "+e.msg(msgImportMore, e.countOf(more, msgImportOneRow, msgImportRows), maxReportedErrors))
	}
	return nil
}
