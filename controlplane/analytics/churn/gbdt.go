package churn

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// GBDTConfig tunes the gradient-boosted trees. Zero fields take defaults.
type GBDTConfig struct {
	Trees          int     // most trees (default 300)
	LearningRate   float64 // shrinkage (default 0.1)
	MaxDepth       int     // default 5
	MinLeaf        int     // fewest training rows in a leaf (default 20)
	Lambda         float64 // L2 on leaf values (default 1)
	MaxBins        int     // histogram bins per feature, 2..255 (default 255)
	ValidationFrac float64 // stratified early-stopping slice of the training rows (default 0.2)
	Patience       int     // rounds without a better validation loss before stopping (default 30)
	// KeepAll turns early stopping off: every one of Trees is kept (the
	// validation slice is still held out of the fit).
	KeepAll bool
	// Refit grows the trees again on every training row once early
	// stopping has chosen how many (see fitGBDT).
	Refit bool
}

func (c *GBDTConfig) defaults() {
	if c.Trees <= 0 {
		c.Trees = 300
	}
	if c.LearningRate <= 0 {
		c.LearningRate = 0.1
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 5
	}
	if c.MinLeaf <= 0 {
		c.MinLeaf = 20
	}
	if c.Lambda <= 0 {
		c.Lambda = 1
	}
	if c.MaxBins < 2 || c.MaxBins > 255 {
		c.MaxBins = 255
	}
	if c.ValidationFrac <= 0 || c.ValidationFrac >= 1 {
		c.ValidationFrac = 0.2
	}
	if c.Patience <= 0 {
		c.Patience = 30
	}
}

// cutPoints returns at most maxBins-1 thresholds for one column: the
// midpoints between adjacent distinct values, thinned to quantiles when
// there are more distinct values than bins.
func cutPoints(col []float64, maxBins int) []float64 {
	vals := slices.Clone(col)
	slices.Sort(vals)
	type run struct {
		v float64
		n int
	}
	var runs []run
	for _, v := range vals {
		if len(runs) > 0 && runs[len(runs)-1].v == v {
			runs[len(runs)-1].n++
		} else {
			runs = append(runs, run{v, 1})
		}
	}
	var cuts []float64
	if len(runs) <= maxBins {
		for i := 1; i < len(runs); i++ {
			cuts = append(cuts, (runs[i-1].v+runs[i].v)/2)
		}
		return cuts
	}
	n := float64(len(vals))
	cum, next := 0, 1
	for i := 0; i < len(runs)-1; i++ {
		cum += runs[i].n
		if float64(cum) >= float64(next)*n/float64(maxBins) {
			cuts = append(cuts, (runs[i].v+runs[i+1].v)/2)
			for float64(cum) >= float64(next)*n/float64(maxBins) {
				next++
			}
			if len(cuts) == maxBins-1 {
				break
			}
		}
	}
	return cuts
}

// binOf is the bin of x: the first cut at or above x (x ≤ cuts[b] ⇔ bin ≤ b).
func binOf(cuts []float64, x float64) uint8 {
	i, _ := slices.BinarySearch(cuts, x)
	return uint8(i)
}

type gbdtTrainer struct {
	cfg    GBDTConfig
	cuts   [][]float64
	binOff []int   // feature f's bins are hist[binOff[f]:binOff[f+1]]
	bins   []uint8 // row-major: row i, feature f at i*d+f
	d      int
	grad   []float64
	hess   []float64
	free   [][]histBin // spare histograms
}

type histBin struct {
	g, h float64
	n    int
}

type split struct {
	feature int
	bin     int
	gain    float64
}

// fitGBDT fits boosted trees on x, y. Early stopping boosts on all but a
// stratified validation slice of the rows (drawn with rng) and finds the
// round with the lowest validation log-loss; with Refit the trees are then
// grown again on every row, as many as that round times 1/(1−slice) (the
// same number of rows-times-trees of learning), otherwise the first fit's
// trees up to that round are kept. It returns the base margin and trees.
func fitGBDT(x [][]float64, y []bool, cfg GBDTConfig, rng *rand.Rand) (float64, []Tree, error) {
	cfg.defaults()
	n := len(x)
	if n == 0 {
		return 0, nil, errors.New("no training rows")
	}
	fit, val := StratifiedSplit(y, cfg.ValidationFrac, rng)
	if len(fit) == 0 || len(val) == 0 {
		return 0, nil, errors.New("too few rows for an early-stopping slice")
	}
	base, trees, best, err := boost(x, y, fit, val, cfg)
	if err != nil || cfg.KeepAll {
		return base, trees, err
	}
	if !cfg.Refit {
		return base, trees[:best], nil
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	cfg.Trees = max(1, int(math.Round(float64(best)/(1-cfg.ValidationFrac))))
	base, trees, _, err = boost(x, y, all, nil, cfg)
	return base, trees, err
}

// boost grows cfg.Trees trees on the fit rows, or fewer when the loss on
// val (if any) has not improved for cfg.Patience rounds. best is the
// number of trees with the lowest validation loss.
func boost(x [][]float64, y []bool, fit, val []int, cfg GBDTConfig) (base float64, trees []Tree, best int, err error) {
	n, d := len(x), len(x[0])
	pos := 0
	for _, i := range fit {
		if y[i] {
			pos++
		}
	}
	if pos == 0 || pos == len(fit) {
		return 0, nil, 0, errors.New("training labels are all one class")
	}
	base = math.Log(float64(pos) / float64(len(fit)-pos))

	t := &gbdtTrainer{cfg: cfg, cuts: make([][]float64, d), binOff: make([]int, d+1), bins: make([]uint8, n*d), d: d}
	col := make([]float64, len(fit))
	for f := range d {
		for k, i := range fit {
			col[k] = x[i][f]
		}
		t.cuts[f] = cutPoints(col, cfg.MaxBins)
		t.binOff[f+1] = t.binOff[f] + len(t.cuts[f]) + 1
		for i := range n {
			t.bins[i*d+f] = binOf(t.cuts[f], x[i][f])
		}
	}
	t.grad, t.hess = make([]float64, n), make([]float64, n)

	margin := make([]float64, n)
	for i := range margin {
		margin[i] = base
	}
	valLoss := func() float64 {
		s := 0.0
		for _, i := range val {
			s += logLoss(margin[i], y[i])
		}
		return s / float64(len(val))
	}
	bestLoss := math.Inf(1)
	if len(val) > 0 {
		bestLoss = valLoss()
	}
	rows := slices.Clone(fit)
	for round := range cfg.Trees {
		for _, i := range fit {
			p := churnmodel.Sigmoid(margin[i])
			t.grad[i] = p
			if y[i] {
				t.grad[i] -= 1
			}
			t.hess[i] = math.Max(p*(1-p), 1e-16)
		}
		copy(rows, fit)
		tr := &Tree{}
		t.grow(tr, rows, t.histogram(rows), 0)
		for i := range n {
			margin[i] += tr.Predict(x[i])
		}
		trees = append(trees, *tr)
		if len(val) == 0 {
			best = len(trees)
			continue
		}
		if l := valLoss(); l < bestLoss-1e-12 {
			bestLoss, best = l, round+1
		} else if !cfg.KeepAll && round+1-best >= cfg.Patience {
			break
		}
	}
	return base, trees, best, nil
}

// histogram sums gradient, hessian and count per feature bin over rows.
func (t *gbdtTrainer) histogram(rows []int) []histBin {
	var hist []histBin
	if k := len(t.free); k > 0 {
		hist, t.free = t.free[k-1], t.free[:k-1]
		clear(hist)
	} else {
		hist = make([]histBin, t.binOff[t.d])
	}
	d, off := t.d, t.binOff[:t.d]
	for _, i := range rows {
		g, h := t.grad[i], t.hess[i]
		rb := t.bins[i*d : i*d+d]
		for f, b := range rb {
			hb := &hist[off[f]+int(b)]
			hb.g += g
			hb.h += h
			hb.n++
		}
	}
	return hist
}

func addNode(tr *Tree) int {
	tr.Feature = append(tr.Feature, -1)
	tr.Threshold = append(tr.Threshold, 0)
	tr.Left = append(tr.Left, -1)
	tr.Right = append(tr.Right, -1)
	tr.Value = append(tr.Value, 0)
	return len(tr.Feature) - 1
}

// grow adds the node for rows, whose histogram is hist, and its subtree,
// and returns the node's index. A child's histogram is built for the
// smaller child only; the larger one's is the parent's minus it.
func (t *gbdtTrainer) grow(tr *Tree, rows []int, hist []histBin, depth int) int {
	defer func() { t.free = append(t.free, hist) }()
	id := addNode(tr)
	var g, h float64
	for _, i := range rows {
		g += t.grad[i]
		h += t.hess[i]
	}
	tr.Value[id] = -g / (h + t.cfg.Lambda) * t.cfg.LearningRate
	if depth >= t.cfg.MaxDepth || len(rows) < 2*t.cfg.MinLeaf {
		return id
	}
	s, ok := t.bestSplit(hist, len(rows), g, h)
	if !ok {
		return id
	}
	// Partition rows in place: left (bin ≤ s.bin) first.
	l := 0
	for k, i := range rows {
		if int(t.bins[i*t.d+s.feature]) <= s.bin {
			rows[l], rows[k] = rows[k], rows[l]
			l++
		}
	}
	tr.Feature[id] = s.feature
	tr.Threshold[id] = t.cuts[s.feature][s.bin]
	var lh, rh []histBin
	if l <= len(rows)-l {
		lh = t.histogram(rows[:l])
		rh = t.subtract(hist, lh)
	} else {
		rh = t.histogram(rows[l:])
		lh = t.subtract(hist, rh)
	}
	left := t.grow(tr, rows[:l], lh, depth+1)
	right := t.grow(tr, rows[l:], rh, depth+1)
	tr.Left[id], tr.Right[id] = left, right
	return id
}

// subtract returns parent − child in a fresh histogram.
func (t *gbdtTrainer) subtract(parent, child []histBin) []histBin {
	var out []histBin
	if k := len(t.free); k > 0 {
		out, t.free = t.free[k-1], t.free[:k-1]
	} else {
		out = make([]histBin, len(parent))
	}
	for b := range parent {
		out[b] = histBin{g: parent[b].g - child[b].g, h: parent[b].h - child[b].h, n: parent[b].n - child[b].n}
	}
	return out
}

func (t *gbdtTrainer) bestSplit(hist []histBin, rows int, g, h float64) (split, bool) {
	lambda, minLeaf := t.cfg.Lambda, t.cfg.MinLeaf
	parent := g * g / (h + lambda)
	best := split{gain: 1e-9}
	found := false
	for f := range t.d {
		hf := hist[t.binOff[f]:t.binOff[f+1]]
		var gl, hl float64
		nl := 0
		for b := 0; b < len(hf)-1; b++ {
			gl += hf[b].g
			hl += hf[b].h
			nl += hf[b].n
			if nl < minLeaf {
				continue
			}
			if rows-nl < minLeaf {
				break
			}
			gr, hr := g-gl, h-hl
			gain := gl*gl/(hl+lambda) + gr*gr/(hr+lambda) - parent
			if gain > best.gain {
				best = split{feature: f, bin: b, gain: gain}
				found = true
			}
		}
	}
	return best, found
}
