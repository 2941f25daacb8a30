package fsm_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbiddenImports would let Apply depend on something other than the log.
var forbiddenImports = map[string]bool{
	"math/rand":    true,
	"math/rand/v2": true,
	"crypto/rand":  true,
}

// forbiddenTimeCalls read the clock.
var forbiddenTimeCalls = map[string]bool{"Now": true, "Since": true, "Until": true}

// TestFSM_SourceIsDeterministic keeps clocks and randomness out of the state
// machine (Nomad style): every replica must compute the same state from the
// same log, so only the leader's stamp in the command may carry time.
func TestFSM_SourceIsDeterministic(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		checked++
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range nondeterminism(t, name, src) {
			t.Errorf("%s", p)
		}
	}
	if checked == 0 {
		t.Fatal("no production files found to check")
	}
}

// nondeterminism lists the forbidden imports and clock reads in one file.
func nondeterminism(t *testing.T, name string, src []byte) []string {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	var problems []string
	timeNames := map[string]bool{}
	for _, imp := range file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if forbiddenImports[path] {
			problems = append(problems, fset.Position(imp.Pos()).String()+": imports "+path)
		}
		if path == "time" {
			local := "time"
			if imp.Name != nil {
				local = imp.Name.Name
			}
			if local == "." {
				problems = append(problems, fset.Position(imp.Pos()).String()+": dot-imports time")
			}
			timeNames[local] = true
		}
	}
	ast.Inspect(file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && timeNames[id.Name] && forbiddenTimeCalls[sel.Sel.Name] {
			problems = append(problems, fset.Position(sel.Pos()).String()+": uses "+id.Name+"."+sel.Sel.Name)
		}
		return true
	})
	return problems
}

// TestNondeterminismLintFindsViolations shows the lint above can fail.
func TestNondeterminismLintFindsViolations(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
	}{
		{"clean", "package fsm\nimport \"time\"\nfunc f(n int64) time.Time { return time.Unix(0, n) }\n", 0},
		{"time.Now", "package fsm\nimport \"time\"\nfunc f() time.Time { return time.Now() }\n", 1},
		{"renamed time", "package fsm\nimport clock \"time\"\nvar now = clock.Now\n", 1},
		{"time.Since", "package fsm\nimport \"time\"\nfunc f(t time.Time) time.Duration { return time.Since(t) }\n", 1},
		{"math/rand", "package fsm\nimport \"math/rand\"\nfunc f() int { return rand.Int() }\n", 1},
		{"math/rand/v2", "package fsm\nimport \"math/rand/v2\"\nfunc f() int { return rand.Int() }\n", 1},
		{"crypto/rand", "package fsm\nimport _ \"crypto/rand\"\n", 1},
		{"other package's Now", "package fsm\ntype c struct{}\nfunc (c) Now() int { return 0 }\nfunc f(x c) int { return x.Now() }\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nondeterminism(t, "x.go", []byte(tt.src)); len(got) != tt.want {
				t.Errorf("found %d problems %v, want %d", len(got), got, tt.want)
			}
		})
	}
}
