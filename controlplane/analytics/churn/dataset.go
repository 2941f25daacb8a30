package churn

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// DefaultSeed seeds the stratified splits when the caller has no seed.
const DefaultSeed = 42

// NewRand is the seeded source the splits draw from: PCG, so a seed gives
// the same split on every platform and Go release.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// LoadOptions names the label column and an optional identifier column,
// which is kept aside and never used as a feature.
type LoadOptions struct {
	Label string
	ID    string
}

// Column is one feature column as read: trimmed cells ("" is missing)
// and whether it is categorical (some non-blank cell is not a number).
type Column struct {
	Name        string
	Categorical bool
	Cells       []string
}

// Dataset is a CSV file split into feature columns, labels and ids.
type Dataset struct {
	Label   string // the label column's name
	Columns []Column
	Labels  []bool
	IDs     []string // empty without LoadOptions.ID
}

// Len is the number of rows.
func (d *Dataset) Len() int { return len(d.Labels) }

// IdentifierLike names the text columns that hold a different value on
// every row (of at least minIdentifierRows): identifiers, most likely. As
// features they are one level per row, which a model can fit but never
// meet again.
func (d *Dataset) IdentifierLike() []string {
	var out []string
	for _, c := range d.Columns {
		if !c.Categorical || len(c.Cells) < minIdentifierRows {
			continue
		}
		seen := make(map[string]bool, len(c.Cells))
		for _, s := range c.Cells {
			if s == "" || seen[s] {
				break
			}
			seen[s] = true
		}
		if len(seen) == len(c.Cells) {
			out = append(out, c.Name)
		}
	}
	return out
}

// minIdentifierRows is the fewest rows IdentifierLike judges a column on.
const minIdentifierRows = 50

// Positives counts the rows labelled true.
func (d *Dataset) Positives() int {
	n := 0
	for _, l := range d.Labels {
		if l {
			n++
		}
	}
	return n
}

// ParseLabel reads True/False, Yes/No and 1/0 in any case.
func ParseLabel(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("label %q: want True/False, Yes/No or 1/0", s)
}

// Load reads a CSV file with a header row. Every column but the label and
// the id is a feature: numeric unless some non-blank cell fails to parse
// as a number, then categorical. Blank or whitespace-only cells are missing.
func Load(r io.Reader, opt LoadOptions) (*Dataset, error) {
	if opt.Label == "" {
		return nil, errors.New("no label column named")
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("empty file: no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	labelAt, idAt := -1, -1
	seen := map[string]bool{}
	ds := &Dataset{Label: opt.Label}
	var featAt []int
	for i, h := range header {
		h = strings.TrimSpace(h)
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		if h == "" {
			return nil, fmt.Errorf("header column %d has no name", i+1)
		}
		if seen[h] {
			return nil, fmt.Errorf("header names column %q twice", h)
		}
		seen[h] = true
		switch {
		case h == opt.Label:
			labelAt = i
		case opt.ID != "" && h == opt.ID:
			idAt = i
		default:
			featAt = append(featAt, i)
			ds.Columns = append(ds.Columns, Column{Name: h})
		}
	}
	if labelAt < 0 {
		return nil, fmt.Errorf("label column %q not in the header", opt.Label)
	}
	if opt.ID != "" && idAt < 0 {
		return nil, fmt.Errorf("id column %q not in the header", opt.ID)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		l, err := ParseLabel(rec[labelAt])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		ds.Labels = append(ds.Labels, l)
		if idAt >= 0 {
			ds.IDs = append(ds.IDs, strings.TrimSpace(rec[idAt]))
		}
		for j, at := range featAt {
			ds.Columns[j].Cells = append(ds.Columns[j].Cells, strings.TrimSpace(rec[at]))
		}
	}
	if ds.Len() == 0 {
		return nil, errors.New("no data rows after the header")
	}
	for j := range ds.Columns {
		c := &ds.Columns[j]
		for _, s := range c.Cells {
			if s == "" {
				continue
			}
			if _, ok := churnmodel.ParseNumber(s); !ok {
				c.Categorical = true
				break
			}
		}
	}
	return ds, nil
}

// Subset returns the rows at idx, in that order.
func (d *Dataset) Subset(idx []int) *Dataset {
	out := &Dataset{Label: d.Label, Columns: make([]Column, len(d.Columns)), Labels: make([]bool, len(idx))}
	for j, c := range d.Columns {
		out.Columns[j] = Column{Name: c.Name, Categorical: c.Categorical, Cells: make([]string, len(idx))}
		for k, i := range idx {
			out.Columns[j].Cells[k] = c.Cells[i]
		}
	}
	for k, i := range idx {
		out.Labels[k] = d.Labels[i]
	}
	if len(d.IDs) > 0 {
		out.IDs = make([]string, len(idx))
		for k, i := range idx {
			out.IDs[k] = d.IDs[i]
		}
	}
	return out
}

// StratifiedSplit shuffles the positive and the negative rows separately
// with rng and holds out round(frac × count) of each, so both parts keep
// the label ratio. It returns sorted row indexes.
func StratifiedSplit(labels []bool, frac float64, rng *rand.Rand) (train, holdout []int) {
	for _, want := range []bool{true, false} {
		var idx []int
		for i, l := range labels {
			if l == want {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		k := int(frac*float64(len(idx)) + 0.5)
		holdout = append(holdout, idx[:k]...)
		train = append(train, idx[k:]...)
	}
	slices.Sort(train)
	slices.Sort(holdout)
	return train, holdout
}

// Split holds out frac of d, stratified by label (see StratifiedSplit).
func (d *Dataset) Split(frac float64, rng *rand.Rand) (train, holdout *Dataset, err error) {
	if !(frac > 0 && frac < 1) {
		return nil, nil, fmt.Errorf("holdout fraction %v: want between 0 and 1", frac)
	}
	tr, ho := StratifiedSplit(d.Labels, frac, rng)
	if len(tr) == 0 || len(ho) == 0 {
		return nil, nil, fmt.Errorf("holdout %v of %d rows leaves a part empty", frac, d.Len())
	}
	return d.Subset(tr), d.Subset(ho), nil
}
