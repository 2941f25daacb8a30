package main

import (
	"bytes"
	"io"
	"unicode"

	"golang.org/x/text/width"
)

// The layout every table of the CLI has had (the text/tabwriter settings it
// replaced): a column is at least tableMinWidth wide and tablePadding wider
// than its widest cell, padded with spaces. (tabwriter's tabwidth, 4, only
// applies to padding with tabs.)
const (
	tableMinWidth = 2
	tablePadding  = 2
)

// tableWriter lays out tab-separated text in columns, as text/tabwriter
// does, but measures a cell in terminal columns rather than runes: a wide
// or fullwidth East Asian rune (a Chinese header or name) takes two, a
// combining mark none. For ASCII the output is byte for byte tabwriter's.
//
// Write as to a tabwriter: a cell ends with '\t' (or '\v'), a line with
// '\n'; the text after a line's last tab is not part of a column; a column
// block is the run of consecutive lines that have a cell in that column.
// '\f' ends the line and every column block. Nothing is written before
// Flush.
type tableWriter struct {
	w   io.Writer
	buf []byte
}

func newTableWriter(w io.Writer) *tableWriter { return &tableWriter{w: w} }

// Write buffers p; it never fails.
func (t *tableWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// Flush lays out and writes what was written since the last Flush.
func (t *tableWriter) Flush() error {
	var out bytes.Buffer
	sections := bytes.Split(t.buf, []byte{'\f'})
	for i, s := range sections {
		if i < len(sections)-1 {
			// tabwriter ends the line at a '\f' and writes '\n' for it.
			s = append(s, '\n')
		}
		layoutTable(&out, s)
	}
	t.buf = t.buf[:0]
	_, err := t.w.Write(out.Bytes())
	return err
}

// layoutTable writes one section (no '\f') laid out to out.
func layoutTable(out *bytes.Buffer, text []byte) {
	rows := bytes.Split(text, []byte{'\n'})
	lines := make([][][]byte, len(rows))
	for i, r := range rows {
		cells := splitCells(r)
		if i == len(rows)-1 && len(cells[len(cells)-1]) == 0 {
			// Unterminated text after the last newline or tab: an empty
			// rest is no cell at all.
			cells = cells[:len(cells)-1]
		}
		lines[i] = cells
	}
	l := tableLayout{out: out, lines: lines}
	l.format(0, len(lines))
}

// splitCells splits a line at its cell terminators, '\t' and '\v' (a
// tabwriter "soft" cell, the same but for empty columns it may discard).
func splitCells(line []byte) [][]byte {
	var cells [][]byte
	for {
		i := bytes.IndexAny(line, "\t\v")
		if i < 0 {
			return append(cells, line)
		}
		cells = append(cells, line[:i])
		line = line[i+1:]
	}
}

// tableLayout is text/tabwriter's formatting algorithm with display widths.
type tableLayout struct {
	out    *bytes.Buffer
	lines  [][][]byte
	widths []int // widths of the columns of the enclosing blocks
	next   int   // the first line not yet written
}

// format writes lines [line0, line1) given the widths of the columns to
// the left of column len(l.widths), finding that column's blocks.
func (l *tableLayout) format(line0, line1 int) {
	column := len(l.widths)
	for this := line0; this < line1; this++ {
		// The last cell of a line is the text before its newline: it
		// belongs to no column.
		if column >= len(l.lines[this])-1 {
			continue
		}
		l.writeLines(this)
		w := tableMinWidth
		end := this
		for ; end < line1 && column < len(l.lines[end])-1; end++ {
			w = max(w, displayWidth(l.lines[end][column])+tablePadding)
		}
		l.widths = append(l.widths, w)
		l.format(this, end)
		l.widths = l.widths[:len(l.widths)-1]
		this = end - 1
	}
	l.writeLines(line1)
}

// writeLines writes the lines from l.next up to (not including) end.
func (l *tableLayout) writeLines(end int) {
	for ; l.next < end; l.next++ {
		for j, c := range l.lines[l.next] {
			l.out.Write(c)
			if j < len(l.widths) {
				for range l.widths[j] - displayWidth(c) {
					l.out.WriteByte(' ')
				}
			}
		}
		if l.next < len(l.lines)-1 {
			l.out.WriteByte('\n')
		}
	}
}

// displayWidth is how many terminal columns s takes.
func displayWidth(s []byte) int {
	n := 0
	for _, r := range string(s) {
		n += runeWidth(r)
	}
	return n
}

// runeWidth is how many terminal columns r takes (as wcwidth, for the
// printable runes): 2 for East Asian wide and fullwidth runes, 0 for
// combining marks, invisible format characters and Hangul medial vowels
// and final consonants, 1 for the rest. An invalid byte (utf8.RuneError)
// counts 1, as ASCII control characters do, so that ASCII is measured as
// text/tabwriter measures it.
func runeWidth(r rune) int {
	switch {
	case r < 0x80:
		return 1
	case r == '\u00ad': // soft hyphen: shown as a hyphen
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf), r >= 0x1160 && r <= 0x11ff:
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
