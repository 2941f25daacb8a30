package decide

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"

	"touchpoint.dev/touchpoint/protocol"
)

// Rule limits. MaxRuleLength and MaxRuleNodes are the control plane's
// (controlplane/catalog), so a rule it accepted compiles here too; the
// others bound what one evaluation may do, because a rule pushed to every
// agent must never hang or crash one.
const (
	MaxRuleLength = 4096
	MaxRuleNodes  = 2000
	// MaxRuleSteps is how many iterations of closures (all, any, filter,
	// map, reduce, …) one evaluation may run, nested loops counted
	// together.
	MaxRuleSteps = 10_000
	// MaxRuleMemory is expr's memory budget per evaluation: elements of
	// ranges, array and map literals and sorted results.
	MaxRuleMemory = 100_000
	// MaxRuleString is the longest string an evaluation may build with
	// +, repeat, replace or join.
	MaxRuleString = 16 << 10
	// maxReasonError is how much of an evaluation error a reason quotes.
	maxReasonError = 300
)

// Names the sandbox adds to a rule's environment. A rule cannot be written
// with them on the control plane (it refuses unknown names); here they are
// harmless: the budget is opaque.
const (
	budgetVar = "__budget"
	stepFn    = "__step"
	addFn     = "__add"
)

// budget counts what one evaluation has done.
type budget struct {
	steps int
}

var errSteps = fmt.Errorf("the rule ran more than %d loop iterations", MaxRuleSteps)

// need is a profile attribute (or context key) a rule reads by a constant
// name. When the rule reads it unguarded and the customer lacks it, the
// rule is false without being run.
type need struct {
	context bool
	key     string
	name    string // flatName
}

// flatName is the environment name under which a decision puts
// profile.<key> (or context.<key>) for rules: the sandbox rewrites constant
// reads into these names, which the VM loads straight from the environment
// map instead of fetching from the nested map by reflection. The dot keeps
// them out of reach of rule syntax.
func flatName(context bool, key string) string {
	if context {
		return "context." + key
	}
	return "profile." + key
}

// rule is one compiled rule text, shared by every offer and campaign that
// uses the same text.
type rule struct {
	id      int
	src     string
	prog    *vm.Program
	err     error  // compile error: the rule filters with rule_error
	needs   []need // unguarded reads: missing means false
	needIdx []int  // their indexes among the decision's flat values
	flat    []need // every constant read, rewritten to flatName
	fast    fastNode
}

// zoneCache loads each time zone once, at Compile (rules' timezone() and
// date(…, zone) calls with constant names, and quiet hours).
type zoneCache map[string]zoneResult

type zoneResult struct {
	loc *time.Location
	err error
}

func (z zoneCache) load(name string) (*time.Location, error) {
	if r, ok := z[name]; ok {
		return r.loc, r.err
	}
	loc, err := protocol.LoadZone(name)
	z[name] = zoneResult{loc, err}
	return loc, err
}

// compileEnv is what a rule sees while it is compiled: profile and context
// are dynamic maps (any attribute compiles; a missing one is nil).
func compileEnv(flat []need) types.Map {
	env := types.Map{
		"profile": types.TypeOf(map[string]any{}),
		"context": types.TypeOf(map[string]any{}),
		"now":     types.TypeOf(time.Time{}),
		budgetVar: types.TypeOf((*budget)(nil)),
	}
	for _, n := range flat {
		env[n.name] = types.Any
	}
	return env
}

// compileRule compiles src with the control plane's options plus the
// sandbox: closures count steps, string building is capped, and the
// builtins that would read the clock or the zone database at evaluation
// time are replaced (timezone and date with a zone name use zones loaded
// now) or removed (now(): the decision time is the variable now). It never
// panics: a panic inside expr becomes the rule's error.
func compileRule(src string, zones zoneCache) (r *rule, err error) {
	r = &rule{src: src}
	defer func() {
		if p := recover(); p != nil {
			r.prog, r.err = nil, fmt.Errorf("%v", p)
			err = r.err
		}
	}()
	if len(src) > MaxRuleLength {
		r.err = fmt.Errorf("the rule is %d bytes; the limit is %d", len(src), MaxRuleLength)
		return r, r.err
	}
	r.needs, r.flat = readsOf(src)
	g := &guard{zones: zones}
	prog, err := expr.Compile(src,
		expr.Env(compileEnv(r.flat)),
		expr.AsBool(),
		expr.MaxNodes(MaxRuleNodes),
		expr.DisableBuiltin("now"),
		function(stepFn, stepFunc, func(args []reflect.Type) (reflect.Type, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%s takes 2 arguments", stepFn)
			}
			return args[1], nil // the closure body's own type
		}),
		function(addFn, addFunc, func(args []reflect.Type) (reflect.Type, error) {
			if len(args) != 3 {
				return nil, fmt.Errorf("%s takes 3 arguments", addFn)
			}
			if args[1].Kind() == reflect.String && args[2].Kind() == reflect.String {
				return args[1], nil
			}
			return anyType, nil
		}),
		expr.Function("repeat", repeatFunc, new(func(string, int) string)),
		expr.Function("replace", replaceFunc,
			new(func(string, string, string) string),
			new(func(string, string, string, int) string),
		),
		expr.Function("join", joinFunc,
			new(func([]any, string) string),
			new(func([]any) string),
			new(func([]string, string) string),
			new(func([]string) string),
		),
		expr.Function("timezone", g.timezoneFunc, new(func(string) *time.Location)),
		function("date", g.dateFunc, builtinValidate("date")),
		timeFunctions(),
		expr.Patch(g),
	)
	if err == nil && g.err != nil {
		err = g.err
	}
	if err != nil {
		r.err = err
		return r, r.err
	}
	r.prog = prog
	return r, nil
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// function declares fn under name with a type check of its own (expr.Function
// takes only fixed signatures).
func function(name string, fn func(...any) (any, error), validate func([]reflect.Type) (reflect.Type, error)) expr.Option {
	return func(c *conf.Config) {
		c.Functions[name] = &builtin.Function{Name: name, Func: fn, Validate: validate}
	}
}

// builtinValidate is the type check of expr's builtin name.
func builtinValidate(name string) func([]reflect.Type) (reflect.Type, error) {
	if i, ok := builtin.Index[name]; ok && builtin.Builtins[i].Validate != nil {
		return builtin.Builtins[i].Validate
	}
	return func([]reflect.Type) (reflect.Type, error) { return anyType, nil }
}

// timeMethods are the methods of now that rules call most, run as plain
// functions (expr would call them by reflection, allocating per call).
var timeMethods = map[string]struct {
	fn  func(time.Time) any
	typ any
}{
	"Hour":    {func(t time.Time) any { return t.Hour() }, new(func(time.Time) int)},
	"Minute":  {func(t time.Time) any { return t.Minute() }, new(func(time.Time) int)},
	"Second":  {func(t time.Time) any { return t.Second() }, new(func(time.Time) int)},
	"Day":     {func(t time.Time) any { return t.Day() }, new(func(time.Time) int)},
	"YearDay": {func(t time.Time) any { return t.YearDay() }, new(func(time.Time) int)},
	"Year":    {func(t time.Time) any { return t.Year() }, new(func(time.Time) int)},
	"Month":   {func(t time.Time) any { return t.Month() }, new(func(time.Time) time.Month)},
	"Weekday": {func(t time.Time) any { return t.Weekday() }, new(func(time.Time) time.Weekday)},
	"Unix":    {func(t time.Time) any { return t.Unix() }, new(func(time.Time) int64)},
}

const timeFn = "__now_"

func timeFunctions() expr.Option {
	return func(c *conf.Config) {
		for name, m := range timeMethods {
			fn := m.fn
			expr.Function(timeFn+name, func(args ...any) (any, error) {
				t, ok := args[0].(time.Time)
				if !ok {
					return nil, fmt.Errorf("now is %T, not a time", args[0])
				}
				return fn(t), nil
			}, m.typ)(c)
		}
	}
}

// guard is the sandbox's patcher: it wraps every closure body in a step
// count and every + that may join strings in a size check, and checks
// that time zones are named by constants (loaded at Compile).
type guard struct {
	zones zoneCache
	err   error
}

func ident(name string) *ast.IdentifierNode { return &ast.IdentifierNode{Value: name} }

func (g *guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if r, ok := readOf(n); ok && !n.Optional && !n.Method {
			ast.Patch(node, &ast.IdentifierNode{Value: r.name})
		}
	case *ast.PredicateNode:
		if c, ok := n.Node.(*ast.CallNode); ok {
			if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == stepFn {
				return // already wrapped
			}
		}
		n.Node = &ast.CallNode{Callee: ident(stepFn), Arguments: []ast.Node{ident(budgetVar), n.Node}}
	case *ast.BinaryNode:
		l, r := n.Left.Type(), n.Right.Type()
		if n.Operator == "+" && !(numeric(l) && numeric(r)) && !timeLike(l) && !timeLike(r) {
			ast.Patch(node, &ast.CallNode{Callee: ident(addFn), Arguments: []ast.Node{ident(budgetVar), n.Left, n.Right}})
		}
	case *ast.CallNode:
		if m, ok := n.Callee.(*ast.MemberNode); ok && m.Method && len(n.Arguments) == 0 {
			if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "now" {
				if p, ok := m.Property.(*ast.StringNode); ok {
					if _, ok := timeMethods[p.Value]; ok {
						ast.Patch(node, &ast.CallNode{Callee: ident(timeFn + p.Value), Arguments: []ast.Node{id}})
					}
				}
			}
			return
		}
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		switch {
		case id.Value == "timezone" && len(n.Arguments) == 1:
			g.constZone(n.Arguments[0])
		case id.Value == "date":
			args := n.Arguments
			if len(args) > 0 && args[0].Type() == locationType {
				args = args[1:]
			}
			if len(args) == 3 {
				g.constZone(args[2])
			}
		}
	}
}

func (g *guard) constZone(arg ast.Node) {
	s, ok := arg.(*ast.StringNode)
	if !ok {
		if g.err == nil {
			g.err = errors.New("the decision engine needs time zones named by a constant string (they are loaded when the catalogue arrives)")
		}
		return
	}
	if _, err := g.zones.load(s.Value); err != nil && g.err == nil {
		g.err = fmt.Errorf("time zone %q: %v", s.Value, err)
	}
}

func numeric(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

var (
	timeType     = reflect.TypeOf(time.Time{})
	durationType = reflect.TypeOf(time.Duration(0))
	locationType = reflect.TypeOf((*time.Location)(nil))
)

func timeLike(t reflect.Type) bool { return t == timeType || t == durationType }

func stepFunc(args ...any) (any, error) {
	b, _ := args[0].(*budget)
	if b != nil {
		b.steps++
		if b.steps > MaxRuleSteps {
			return nil, errSteps
		}
	}
	return args[1], nil
}

func addFunc(args ...any) (any, error) {
	if x, ok := args[1].(string); ok {
		if y, ok := args[2].(string); ok {
			if len(x)+len(y) > MaxRuleString {
				return nil, errString
			}
			return x + y, nil
		}
	}
	return runtime.Add(args[1], args[2]), nil
}

var errString = fmt.Errorf("the rule built a string longer than %d bytes", MaxRuleString)

func repeatFunc(args ...any) (any, error) {
	s, _ := args[0].(string)
	n := runtime.ToInt(args[1])
	if n < 0 {
		return nil, fmt.Errorf("invalid argument for repeat (expected positive integer, got %d)", n)
	}
	if len(s) > 0 && n > MaxRuleString/len(s) {
		return nil, errString
	}
	return strings.Repeat(s, n), nil
}

func replaceFunc(args ...any) (any, error) {
	s, _ := args[0].(string)
	old, _ := args[1].(string)
	repl, _ := args[2].(string)
	n := -1
	if len(args) == 4 {
		n = runtime.ToInt(args[3])
	}
	count := 0
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	} else {
		count = strings.Count(s, old)
	}
	if n >= 0 && n < count {
		count = n
	}
	if grow := len(repl) - len(old); grow > 0 && count > 0 && (count > MaxRuleString/grow || len(s)+count*grow > MaxRuleString) {
		return nil, errString
	}
	return strings.Replace(s, old, repl, n), nil
}

func joinFunc(args ...any) (any, error) {
	glue := ""
	if len(args) == 2 {
		glue, _ = args[1].(string)
	}
	var parts []string
	switch a := args[0].(type) {
	case []string:
		parts = a
	case []any:
		parts = make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("invalid argument for join (element of type %T)", e)
			}
			parts = append(parts, s)
		}
	default:
		return nil, fmt.Errorf("invalid argument for join (type %T)", args[0])
	}
	size := len(glue) * max(len(parts)-1, 0)
	if len(parts) > 0 && len(glue) > 0 && len(parts) > MaxRuleString/len(glue) {
		return nil, errString
	}
	for _, p := range parts {
		size += len(p)
		if size > MaxRuleString {
			return nil, errString
		}
	}
	return strings.Join(parts, glue), nil
}

func (g *guard) timezoneFunc(args ...any) (any, error) {
	name, _ := args[0].(string)
	r, ok := g.zones[name]
	if !ok {
		return nil, fmt.Errorf("time zone %q was not loaded with the catalogue", name)
	}
	return r.loc, r.err
}

// dateFunc is expr's date() with a zone name looked up among the zones
// loaded at Compile instead of loaded per call.
func (g *guard) dateFunc(args ...any) (any, error) {
	rest := args
	if len(rest) > 0 {
		if _, ok := rest[0].(*time.Location); ok {
			rest = rest[1:]
		}
	}
	if len(rest) == 3 {
		name, _ := rest[2].(string)
		r, ok := g.zones[name]
		if !ok {
			return nil, fmt.Errorf("time zone %q was not loaded with the catalogue", name)
		}
		if r.err != nil {
			return nil, r.err
		}
		date, _ := rest[0].(string)
		layout, _ := rest[1].(string)
		return time.ParseInLocation(layout, date, r.loc)
	}
	return dateBuiltin(args...)
}

// dateBuiltin is expr's own date() (the forms without a zone name).
func dateBuiltin(args ...any) (any, error) {
	i, ok := builtin.Index["date"]
	if !ok {
		return nil, errors.New("date() is not available")
	}
	return builtin.Builtins[i].Func(args...)
}

// readsOf lists the profile attributes and context keys src reads with a
// constant name (profile.x, profile["x"]): all of them, and those it does
// not guard. A read is guarded when the rule compares the same name with
// nil, uses it on the left of ??, or reads it through optional chaining
// (?.).
func readsOf(src string) (unguarded, all []need) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil
	}
	c := &readCollector{guarded: map[need]bool{}}
	ast.Walk(&tree.Node, c)
	seen := map[need]bool{}
	for _, n := range c.reads {
		if seen[n] {
			continue
		}
		seen[n] = true
		all = append(all, n)
		if !c.guarded[n] {
			unguarded = append(unguarded, n)
		}
	}
	return unguarded, all
}

type readCollector struct {
	reads   []need
	guarded map[need]bool
}

// readOf reports the attribute a member node reads, if it is profile.<const>
// or context.<const>.
func readOf(n ast.Node) (need, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return need{}, false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || (id.Value != "profile" && id.Value != "context") {
		return need{}, false
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return need{}, false
	}
	ctx := id.Value == "context"
	return need{context: ctx, key: s.Value, name: flatName(ctx, s.Value)}, true
}

func (c *readCollector) guardAll(n ast.Node) {
	g := &guardCollector{c: c}
	ast.Walk(&n, g)
}

type guardCollector struct{ c *readCollector }

func (g *guardCollector) Visit(node *ast.Node) {
	if r, ok := readOf(*node); ok {
		g.c.guarded[r] = true
	}
}

func (c *readCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if r, ok := readOf(n); ok {
			c.reads = append(c.reads, r)
			if n.Optional {
				c.guarded[r] = true
			}
		}
		if n.Optional {
			c.guardAll(n.Node)
		}
	case *ast.ChainNode:
		c.guardAll(n.Node)
	case *ast.BinaryNode:
		switch n.Operator {
		case "??":
			c.guardAll(n.Left)
		case "==", "!=":
			if _, ok := n.Right.(*ast.NilNode); ok {
				c.guardAll(n.Left)
			}
			if _, ok := n.Left.(*ast.NilNode); ok {
				c.guardAll(n.Right)
			}
		}
	}
}
