// Package touchpoint_test holds repository-wide checks: import boundaries
// and package documentation (Tailscale-style tests over the tree).
package touchpoint_test

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath  string
	Name        string
	Doc         string
	Deps        []string
	Imports     []string
	TestGoFiles []string
	GoFiles     []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "-deps=false", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func deps(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", path).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", path, err)
	}
	return strings.Fields(string(out))
}

const module = "touchpoint.dev/touchpoint"

// TestImportBoundaries enforces DESIGN.md's rules: protocol is a leaf that
// imports only the standard library; agent and controlplane never import
// each other; the admin commands reach the control plane only through
// protocol/api (cmd/touchpoint may wire the daemons).
func TestImportBoundaries(t *testing.T) {
	for _, p := range listPackages(t) {
		ds := deps(t, p.ImportPath)
		for _, d := range ds {
			switch {
			case strings.HasPrefix(p.ImportPath, module+"/protocol"):
				if !strings.HasPrefix(d, module+"/protocol") {
					t.Errorf("%s imports %s: protocol may import only the standard library", p.ImportPath, d)
				}
			case strings.HasPrefix(p.ImportPath, module+"/agent"):
				if strings.HasPrefix(d, module+"/controlplane") {
					t.Errorf("%s imports %s: the agent never imports the control plane", p.ImportPath, d)
				}
			case strings.HasPrefix(p.ImportPath, module+"/controlplane"):
				if strings.HasPrefix(d, module+"/agent") {
					t.Errorf("%s imports %s: the control plane never imports the agent", p.ImportPath, d)
				}
			}
		}
	}
}

// TestPackagesHaveDocComments fails on a package without a doc comment.
func TestPackagesHaveDocComments(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue // test-only package
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}

// TestAdminCommandsUseOnlyTheAPI: in cmd/touchpoint only the files that
// wire daemons (the control plane, the demo) may import the daemons'
// packages; every admin command speaks to the control plane through
// protocol/api. The pure numerical packages under controlplane/analytics
// (no I/O, no state, no daemon internals) are libraries a command may also
// run locally: `clv fit` and `models train` fit on the operator's machine.
func TestAdminCommandsUseOnlyTheAPI(t *testing.T) {
	daemons := map[string]bool{"cmd_controlplane.go": true, "cmd_agent.go": true, "cmd_demo.go": true, "demo_purchases.go": true}
	files, err := filepath.Glob("cmd/touchpoint/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no command files: %v", err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || daemons[filepath.Base(f)] {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, module+"/") && !strings.HasPrefix(p, module+"/protocol") && !strings.HasPrefix(p, module+"/controlplane/analytics/") {
				t.Errorf("%s imports %s: admin commands use protocol/api only", f, p)
			}
		}
	}
}
