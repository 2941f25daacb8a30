package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"text/tabwriter"
)

// tabwriterTable is what env.table() was before tableWriter: the reference
// the ASCII output must match byte for byte.
func tabwriterTable(t *testing.T, chunks ...string) string {
	t.Helper()
	var b bytes.Buffer
	return writeChunks(t, &b, tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0), chunks)
}

func ownTable(t *testing.T, chunks ...string) string {
	t.Helper()
	var b bytes.Buffer
	return writeChunks(t, &b, newTableWriter(&b), chunks)
}

// writeChunks writes chunks to tw, flushes it and returns what reached b.
func writeChunks(t *testing.T, b *bytes.Buffer, tw interface {
	io.Writer
	Flush() error
}, chunks []string) string {
	t.Helper()
	for _, c := range chunks {
		if _, err := tw.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var asciiTables = map[string]string{
	"empty":                 "",
	"one line, no tab":      "hello\n",
	"no final newline":      "ID\tNAME\nn1\tnode-one",
	"trailing tab":          "a\tb\t\nccc\td\t",
	"a plain table":         "ID\tADDRESS\tSTATE\tLAST INDEX\nn1\t127.0.0.1:7001\tLeader\t42\nn2\t127.0.0.1:7002\tFollower\t41\n",
	"narrow cells":          "a\tb\nc\td\n",
	"empty cells":           "\t\t\nx\t\ty\n\t\n",
	"ragged rows":           "a\tbb\tccc\tdddd\nee\tf\nggg\thh\tiiii\tj\tk\n",
	"blocks broken by text": "KEY\tVALUE\nregion\tsh\nconsents:\nsms\tyes\nemail-marketing\tno\n",
	"blank lines":           "a\tb\n\n\nccc\tdd\n",
	"form feed":             "a\tb\fcccc\td\nee\tf\n",
	"control and spaces":    "a b\tc\r\td\n\x01\tsome  text\t\n",
	"vertical tabs":         "a\vb\vc\n\v\nxyz\vw\n",
	"leading tabs":          "\t\tx\n\ty\tz\n",
	"only tabs":             "\t\t\t",
	"the header is widest":  "CONFIG INDEX\tLAG\n7\t0\n",
}

// For ASCII tables the output is text/tabwriter's (minwidth 2, tabwidth 4,
// padding 2, ' '), byte for byte, however the text is split into writes.
func TestTableWriter_ASCIIMatchesTabwriter(t *testing.T) {
	for name, in := range asciiTables {
		t.Run(name, func(t *testing.T) {
			want := tabwriterTable(t, in)
			if got := ownTable(t, in); got != want {
				t.Errorf("one write:\n got %q\nwant %q", got, want)
			}
			for i := 0; i <= len(in); i++ {
				if got := ownTable(t, in[:i], in[i:]); got != want {
					t.Fatalf("split at %d:\n got %q\nwant %q", i, got, want)
				}
			}
		})
	}
}

// A Flush ends the table; the writer starts a fresh one after it.
func TestTableWriter_FlushStartsAFreshTable(t *testing.T) {
	var b bytes.Buffer
	tw := newTableWriter(&b)
	fmt.Fprintf(tw, "a\tb\n")
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tw, "cccccc\td\n")
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "a  b\ncccccc  d\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func FuzzTableWriter_ASCIIMatchesTabwriter(f *testing.F) {
	for _, in := range asciiTables {
		f.Add(in, uint(len(in)/2))
	}
	f.Fuzz(func(t *testing.T, in string, split uint) {
		b := []byte(in)
		for i := range b {
			b[i] &= 0x7f // ASCII only: tabwriter counts runes, which is right for ASCII alone
		}
		s := string(b)
		at := int(split % uint(len(s)+1))
		if got, want := ownTable(t, s[:at], s[at:]), tabwriterTable(t, s); got != want {
			t.Errorf("table of %q:\n got %q\nwant %q", s, got, want)
		}
	})
}

// cellStarts returns the display column at which each space-separated
// field of line starts.
func cellStarts(line string) []int {
	var starts []int
	col, inField := 0, false
	for _, r := range line {
		switch {
		case r == ' ':
			inField = false
		case !inField:
			inField = true
			starts = append(starts, col)
		}
		col += runeWidth(r)
	}
	return starts
}

// misaligned reports the first column whose cells do not all start at the
// same display column in out, or "" when every column lines up.
func misaligned(out string) string {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	first := cellStarts(lines[0])
	for _, l := range lines[1:] {
		starts := cellStarts(l)
		if len(starts) != len(first) {
			return fmt.Sprintf("%q has %d cells, the header %d", l, len(starts), len(first))
		}
		for j := range starts {
			if starts[j] != first[j] {
				return fmt.Sprintf("column %d starts at display column %d in %q but %d in %q", j, starts[j], l, first[j], lines[0])
			}
		}
	}
	return ""
}

// Chinese headers and data (two terminal columns a character), fullwidth
// letters and combining accents line up: each column starts at the same
// display column on every row.
func TestTableWriter_CJKColumnsLineUp(t *testing.T) {
	in := "编号\t站点\t渠道\t状态\t最近在线\n" +
		"kiosk-1\t上海-浦东\tkiosk\talive\t2026-01-02T03:04:05Z\n" +
		"ivr-22\tsh\tivr\t已吊销\t-\n" +
		"ＡＢＣ\tCafe\u0301\t短信\tdead\t-\n"
	out := ownTable(t, in)
	if m := misaligned(out); m != "" {
		t.Errorf("%s:\n%s", m, out)
	}
	// The check can fail: tabwriter, counting runes, misaligns this table.
	if m := misaligned(tabwriterTable(t, in)); m == "" {
		t.Errorf("tabwriter's output passes the alignment check; the check checks nothing")
	}
	// Columns are as wide as their widest cell plus 2: 上海-浦东 is 9.
	if want := "编号     站点       渠道   状态    最近在线\n"; !strings.HasPrefix(out, want) {
		t.Errorf("header line %q, want %q", strings.SplitAfter(out, "\n")[0], want)
	}
}

func TestRuneWidth(t *testing.T) {
	for _, c := range []struct {
		r    rune
		want int
	}{
		{'a', 1}, {' ', 1}, {'\x01', 1},
		{'编', 2}, {'，', 2}, {'Ａ', 2}, {'가', 2}, {'ア', 2},
		{'ｱ', 1}, // halfwidth katakana
		{'é', 1}, {'°', 1}, {'…', 1}, {'\ufffd', 1},
		{'\u0301', 0}, // combining acute accent
		{'\u20dd', 0}, // combining enclosing circle
		{'\u200b', 0}, // zero-width space
		{'\u1160', 0}, // Hangul medial vowel filler
		{'\u00ad', 1}, // soft hyphen
	} {
		if got := runeWidth(c.r); got != c.want {
			t.Errorf("runeWidth(%U %q) = %d, want %d", c.r, c.r, got, c.want)
		}
	}
}

// get KIND ID's table shows a long member (a model's trees) cut, with its
// size, and the short ones whole.
func TestPrintDocument_CutsLongValues(t *testing.T) {
	var b bytes.Buffer
	doc := `{"kind":"Model","id":"churn-1","body":{"trees":[` + strings.Repeat(`{"split":1.5},`, 100) + `{}]}}`
	if err := (&env{stdout: &b, lang: "en"}).printDocument(json.RawMessage(doc), 7); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "id:     churn-1\n") || !strings.Contains(out, `body:   {"trees":[{"split":1.5},{"split":1.5},{"… (1414 bytes`) ||
		!strings.Contains(out, " bytes in all: -o json shows it)\n") || strings.Contains(out, strings.Repeat(`{"split":1.5},`, 5)) {
		t.Errorf("table:\n%s", out)
	}
}
