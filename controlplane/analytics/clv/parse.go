package clv

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// summaryColumns maps each accepted header name to the field it fills.
// The two CDNOW layouts are ID,frequency,recency,T and ID,x,t_x,T,zbar
// (monetary_value is lifetimes' name for zbar).
var summaryColumns = map[string]string{
	"ID": "id", "id": "id", "customer_id": "id",
	"frequency": "x", "x": "x",
	"recency": "tx", "t_x": "tx",
	"T":    "T",
	"zbar": "zbar", "monetary_value": "zbar",
}

// ParseSummaryCSV reads per-customer summaries: a header naming the
// columns (ID,frequency,recency,T or ID,x,t_x,T,zbar, in any order), then
// one customer a row.
func ParseSummaryCSV(r io.Reader) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("summary CSV: empty input, want a header line")
	}
	if err != nil {
		return nil, fmt.Errorf("summary CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		f, ok := summaryColumns[h]
		if !ok {
			return nil, fmt.Errorf("summary CSV line 1: unknown column %q (want ID,frequency,recency,T or ID,x,t_x,T,zbar)", h)
		}
		if _, dup := col[f]; dup {
			return nil, fmt.Errorf("summary CSV line 1: column %q given twice", h)
		}
		col[f] = i
	}
	for _, f := range []string{"id", "x", "tx", "T"} {
		if _, ok := col[f]; !ok {
			return nil, fmt.Errorf("summary CSV line 1: no %s column (want ID,frequency,recency,T or ID,x,t_x,T,zbar)", map[string]string{"id": "ID", "x": "frequency (x)", "tx": "recency (t_x)", "T": "T"}[f])
		}
	}
	zcol, hasSpend := col["zbar"]
	ds := &Dataset{HasSpend: hasSpend}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("summary CSV: %w", err) // a csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("summary CSV line %d: %d fields, want %d", line, len(rec), len(header))
		}
		num := func(name string, i int) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("summary CSV line %d: %s %q is not a number", line, name, rec[i])
			}
			return v, nil
		}
		c := Customer{ID: strings.TrimSpace(rec[col["id"]])}
		if c.X, err = num(header[col["x"]], col["x"]); err != nil {
			return nil, err
		}
		if c.Tx, err = num(header[col["tx"]], col["tx"]); err != nil {
			return nil, err
		}
		if c.T, err = num("T", col["T"]); err != nil {
			return nil, err
		}
		if hasSpend {
			if c.Zbar, err = num(header[zcol], zcol); err != nil {
				return nil, err
			}
		}
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("summary CSV line %d: %w", line, err)
		}
		ds.Customers = append(ds.Customers, c)
	}
	if len(ds.Customers) == 0 {
		return nil, errors.New("summary CSV: no customer rows")
	}
	return ds, nil
}

// TransactionOptions tunes ParseTransactions.
type TransactionOptions struct {
	// CalibrationEnd is the last day of the calibration period (its
	// date is used, in UTC); transactions after it are ignored. Zero
	// means the last date in the log; a date after it is refused with a
	// *CalibrationEndError.
	CalibrationEnd time.Time
}

// CalibrationEndError is ParseTransactions refusing a calibration end
// after the log's last transaction date: the log says nothing about the
// days after it, yet every customer's age T would count them as observed
// days without a purchase, and the fit would take them for dropout.
type CalibrationEndError struct {
	End, LastDate time.Time
}

func (e *CalibrationEndError) Error() string {
	return fmt.Sprintf("calibration end %s is after the log's last transaction date, %s: the log cannot tell whether customers bought in between",
		e.End.Format(time.DateOnly), e.LastDate.Format(time.DateOnly))
}

// ParseTransactions reads a raw transaction log — whitespace-separated
// customer id, date (YYYYMMDD), quantity and value, after an optional
// header line, like CDNOW_master.txt — and summarises it per customer in
// weeks, as lifetimes' summary_data_from_transaction_data does with daily
// periods: all transactions of one day are one purchase; frequency is
// the number of purchase days after the first, recency the weeks from
// the first to the last, T the weeks from the first to the calibration
// end, and zbar the mean of the repeat days' totals (the first day
// excluded). Customers whose first purchase is after the calibration end
// are left out. Customers come out in order of first appearance. A
// calibration end after the log's last date is a *CalibrationEndError.
func ParseTransactions(r io.Reader, opt TransactionOptions) (*Dataset, error) {
	type hist struct {
		id   string
		days map[int]float64 // day number → total value
	}
	var order []*hist
	byID := map[string]*hist{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lastDay := math.MinInt
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if line == 1 && len(f) > 1 && !isDigits(f[1]) {
			continue // header
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("transaction log line %d: %d fields, want customer_id date number_of_cds dollar_value", line, len(f))
		}
		day, err := parseDay(f[1])
		if err != nil {
			return nil, fmt.Errorf("transaction log line %d: %w", line, err)
		}
		if _, err := strconv.ParseFloat(f[2], 64); err != nil {
			return nil, fmt.Errorf("transaction log line %d: quantity %q is not a number", line, f[2])
		}
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("transaction log line %d: value %q is not a number ≥ 0", line, f[3])
		}
		h := byID[f[0]]
		if h == nil {
			h = &hist{id: f[0], days: map[int]float64{}}
			byID[f[0]] = h
			order = append(order, h)
		}
		h.days[day] += v
		lastDay = max(lastDay, day)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("transaction log line %d: %w", line+1, err)
	}
	if len(order) == 0 {
		return nil, errors.New("transaction log: no transactions")
	}
	end := lastDay
	if !opt.CalibrationEnd.IsZero() {
		y, m, d := opt.CalibrationEnd.Date()
		end = dayNumber(y, int(m), d)
		if end > lastDay {
			return nil, &CalibrationEndError{End: dayDate(end), LastDate: dayDate(lastDay)}
		}
	}
	ds := &Dataset{HasSpend: true}
	for _, h := range order {
		var days []int
		for d := range h.days {
			if d <= end {
				days = append(days, d)
			}
		}
		if len(days) == 0 {
			continue
		}
		sort.Ints(days)
		first, last := days[0], days[len(days)-1]
		c := Customer{ID: h.id, X: float64(len(days) - 1), Tx: float64(last-first) / 7, T: float64(end-first) / 7}
		if c.X > 0 {
			sum := 0.0
			for _, d := range days[1:] {
				sum += h.days[d]
			}
			c.Zbar = sum / c.X
		}
		if c.T == 0 {
			continue // first purchase on the calibration end: no time observed
		}
		ds.Customers = append(ds.Customers, c)
	}
	if len(ds.Customers) == 0 {
		return nil, errors.New("transaction log: no customer purchased before the calibration end")
	}
	return ds, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// parseDay reads YYYYMMDD into a day number.
func parseDay(s string) (int, error) {
	if len(s) != 8 || !isDigits(s) {
		return 0, fmt.Errorf("date %q: want YYYYMMDD", s)
	}
	t, err := time.Parse("20060102", s)
	if err != nil {
		return 0, fmt.Errorf("date %q: want YYYYMMDD", s)
	}
	return dayNumber(t.Year(), int(t.Month()), t.Day()), nil
}

// dayDate is the date of a day number, at midnight UTC.
func dayDate(day int) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }

// dayNumber counts days from 1970-01-01 in the proleptic Gregorian
// calendar.
func dayNumber(y, m, d int) int {
	return int(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}
