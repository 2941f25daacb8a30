package clv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const smallLog = ` customer_id  date number_of_cds  dollar_value
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00002 19970115  1   10.00
 00002 19970115  1    6.00
 00002 19970129  2   30.00
 00003 19970102  2   20.76
 00003 19970301  1   99.00
 00004 19970210  1    5.00
`

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseTransactions_SameDayIsOnePurchase(t *testing.T) {
	ds, err := ParseTransactions(strings.NewReader(smallLog), TransactionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ds.HasSpend || len(ds.Customers) != 4 {
		t.Fatalf("got %d customers (spend %v), want 4 with spend", len(ds.Customers), ds.HasSpend)
	}
	end := 59.0 // 1997-03-01, the last date in the log, is day 59 from 1997-01-01
	want := []Customer{
		{ID: "00001", X: 0, Tx: 0, T: end / 7},
		// Days 11 (89.00), 14 (16.00), 28 (30.00): two repeat days.
		{ID: "00002", X: 2, Tx: 17.0 / 7, T: (end - 11) / 7, Zbar: 23},
		{ID: "00003", X: 1, Tx: 58.0 / 7, T: (end - 1) / 7, Zbar: 99},
		{ID: "00004", X: 0, Tx: 0, T: (end - 40) / 7},
	}
	for i, w := range want {
		g := ds.Customers[i]
		if g.ID != w.ID || g.X != w.X || !approx(g.Tx, w.Tx) || !approx(g.T, w.T) || !approx(g.Zbar, w.Zbar) {
			t.Errorf("customer %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestParseTransactions_CalibrationEndCutsLaterTransactions(t *testing.T) {
	cut := time.Date(1997, 1, 20, 0, 0, 0, 0, time.UTC)
	ds, err := ParseTransactions(strings.NewReader(smallLog), TransactionOptions{CalibrationEnd: cut})
	if err != nil {
		t.Fatal(err)
	}
	// 00004 first bought after the cut: left out. 00003's second purchase
	// and 00002's 29 January purchase are ignored.
	if len(ds.Customers) != 3 {
		t.Fatalf("got %d customers, want 3: %+v", len(ds.Customers), ds.Customers)
	}
	end := 19.0
	want := []Customer{
		{ID: "00001", X: 0, Tx: 0, T: end / 7},
		{ID: "00002", X: 1, Tx: 3.0 / 7, T: (end - 11) / 7, Zbar: 16},
		{ID: "00003", X: 0, Tx: 0, T: (end - 1) / 7},
	}
	for i, w := range want {
		g := ds.Customers[i]
		if g.ID != w.ID || g.X != w.X || !approx(g.Tx, w.Tx) || !approx(g.T, w.T) || !approx(g.Zbar, w.Zbar) {
			t.Errorf("customer %d = %+v, want %+v", i, g, w)
		}
	}
	// A calibration end on the last day keeps every transaction.
	last := time.Date(1997, 3, 1, 0, 0, 0, 0, time.UTC)
	all, err := ParseTransactions(strings.NewReader(smallLog), TransactionOptions{CalibrationEnd: last})
	if err != nil || len(all.Customers) != 4 || all.Customers[2].X != 1 {
		t.Errorf("calibration end on the last date: %+v, %v", all, err)
	}
}

// A calibration end after the last date would count the days past it as
// days without purchases: refused, naming both dates.
func TestParseTransactions_CalibrationEndAfterLastDateIsRefused(t *testing.T) {
	for _, end := range []time.Time{
		time.Date(1997, 3, 2, 0, 0, 0, 0, time.UTC), // the day after the last date, 1997-03-01
		time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		ds, err := ParseTransactions(strings.NewReader(smallLog), TransactionOptions{CalibrationEnd: end})
		var ce *CalibrationEndError
		if !errors.As(err, &ce) {
			t.Fatalf("calibration end %s: %+v, %v; want a CalibrationEndError", end.Format(time.DateOnly), ds, err)
		}
		if !ce.End.Equal(end) || ce.LastDate.Format(time.DateOnly) != "1997-03-01" {
			t.Errorf("error dates %s, %s; want %s, 1997-03-01", ce.End, ce.LastDate, end.Format(time.DateOnly))
		}
		if msg := err.Error(); !strings.Contains(msg, end.Format(time.DateOnly)) || !strings.Contains(msg, "1997-03-01") {
			t.Errorf("message %q names neither date", msg)
		}
	}
}

func TestParseTransactions_RejectsBadRowsWithLineNumber(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"bad date":     {"id date n v\n1 19970101 1 2\n2 1997013x 1 2\n", "line 3: date"},
		"no such day":  {"1 19970231 1 2\n", "line 1: date"},
		"few fields":   {"1 19970101 1\n", "line 1: 3 fields"},
		"bad value":    {"1 19970101 1 -2\n", "line 1: value"},
		"bad quantity": {"1 19970101 x 2\n", "line 1: quantity"},
		"empty":        {"customer_id date n v\n", "no transactions"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTransactions(strings.NewReader(tc.in), TransactionOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseSummaryCSV_DetectsLayoutByHeader(t *testing.T) {
	a, err := ParseSummaryCSV(strings.NewReader("ID,frequency,recency,T\n1,2,30.43,38.86\n2,0,0,38.86\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.HasSpend || len(a.Customers) != 2 || a.Customers[0] != (Customer{ID: "1", X: 2, Tx: 30.43, T: 38.86}) {
		t.Errorf("frequency layout: %+v", a)
	}
	b, err := ParseSummaryCSV(strings.NewReader("ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasSpend || b.Customers[0] != (Customer{ID: "1", X: 2, Tx: 30.43, T: 38.86, Zbar: 22.35}) {
		t.Errorf("x,t_x layout: %+v", b)
	}
}

func TestParseSummaryCSV_RejectsUnknownColumnsAndBadRows(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"unknown column": {"ID,frequency,recency,T,age\n", `unknown column "age"`},
		"missing T":      {"ID,frequency,recency\n1,0,0\n", "no T column"},
		"not a number":   {"ID,x,t_x,T\n1,0,0,38\n2,one,0,38\n", `line 3: x "one"`},
		"recency > T":    {"ID,x,t_x,T\n1,1,40,38\n", "line 2: recency"},
		"fractional x":   {"ID,x,t_x,T\n1,1.5,2,38\n", "line 2: frequency"},
		"short row":      {"ID,x,t_x,T\n1,1,2\n", "line 2: 3 fields"},
		"no rows":        {"ID,x,t_x,T\n", "no customer rows"},
		"empty":          {"", "empty input"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSummaryCSV(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParseSummaryCSV(f *testing.F) {
	f.Add([]byte("ID,frequency,recency,T\n1,2,30.43,38.86\n2,0,0,38.86\n"))
	f.Add([]byte("ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n3,0,0.00,38.86,0.00\n"))
	f.Add([]byte("ID,x,t_x,T\n1,1e308,1,2\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := ParseSummaryCSV(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, c := range ds.Customers {
			if err := c.check(); err != nil {
				t.Fatalf("parser accepted %+v: %v", c, err)
			}
		}
		// Round trip: what was read, written back, reads the same.
		if again, err := ParseSummaryCSV(strings.NewReader(summaryCSV(ds))); err != nil {
			t.Fatalf("re-reading %q: %v", summaryCSV(ds), err)
		} else if !slices.Equal(again.Customers, ds.Customers) || again.HasSpend != ds.HasSpend {
			t.Fatalf("round trip: %+v, want %+v", again, ds)
		}
		if len(ds.Customers) <= 3 {
			m := BGNBD{0.243, 4.414, 0.793, 2.426}
			_ = m.LogLikelihood(ds.Customers)
			for _, c := range ds.Customers {
				_ = m.PAlive(c)
			}
		}
	})
}

// summaryCSV writes ds in the ID,x,t_x,T[,zbar] layout.
func summaryCSV(ds *Dataset) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	head := []string{"ID", "x", "t_x", "T"}
	if ds.HasSpend {
		head = append(head, "zbar")
	}
	w.Write(head)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, c := range ds.Customers {
		rec := []string{c.ID, g(c.X), g(c.Tx), g(c.T)}
		if ds.HasSpend {
			rec = append(rec, g(c.Zbar))
		}
		w.Write(rec)
	}
	w.Flush()
	return b.String()
}

func FuzzParseTransactions(f *testing.F) {
	f.Add([]byte(smallLog), int64(0))
	f.Add([]byte("1 19970101 1 2\n1 19970101 1 3\n"), int64(19970102))
	f.Add([]byte("1 19970101 1 2\n1 19970105 1 3\n2 19970102 1 4\n"), int64(19970103))
	f.Add([]byte("a 99991231 0 0\n"), int64(10000101))
	f.Fuzz(func(t *testing.T, in []byte, end int64) {
		var opt TransactionOptions
		if end > 0 {
			opt.CalibrationEnd = time.Date(int(end/10000%10000), time.Month(end/100%100), int(end%100), 0, 0, 0, 0, time.UTC)
		}
		ds, err := ParseTransactions(bytes.NewReader(in), opt)
		if err != nil {
			return
		}
		for _, c := range ds.Customers {
			if err := c.check(); err != nil {
				t.Fatalf("parser produced %+v: %v", c, err)
			}
		}
	})
}
