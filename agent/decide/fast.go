package decide

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// The fast path: most rules are comparisons of an attribute with a
// constant joined by and/or/not (`profile.tenureMonths >= 6`,
// `profile.plan in ["basic-38", "plus-58"]`). Such a rule is also built as
// a small tree of Go closures that reads the attribute straight from the
// decision's maps. It answers only where its answer is certainly expr's:
// for the value types it knows (numbers against numbers, strings against
// strings, booleans); anything else — a type mismatch, which expr reports
// as an error or compares in its own way — makes it give up, and the
// compiled program runs as usual. A differential fuzz test holds the two
// to the same answers.

// fastNode evaluates part of a rule: the value, and whether the fast path
// could decide it.
type fastNode func(s *scratch) (value, ok bool)

// compileFast builds the fast path of src, or nil when src is not of the
// simple shape.
func compileFast(src string, index func(need) int) fastNode {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	f := fastCompiler{index: index}
	return f.of(tree.Node)
}

// fastCompiler builds fast nodes; index maps a read to its slot among the
// decision's flat values.
type fastCompiler struct{ index func(need) int }

// slot is the flat-value index of the read n is, or -1.
func (f fastCompiler) slot(n ast.Node) int {
	r, ok := readOf(n)
	if !ok {
		return -1
	}
	if m := n.(*ast.MemberNode); m.Optional || m.Method {
		return -1
	}
	return f.index(r)
}

func (f fastCompiler) of(n ast.Node) fastNode {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*scratch) (bool, bool) { return v, true }
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil
		}
		x := f.of(n.Node)
		if x == nil {
			return nil
		}
		return func(s *scratch) (bool, bool) {
			v, ok := x(s)
			return !v, ok
		}
	case *ast.MemberNode:
		i := f.slot(n)
		if i < 0 {
			return nil
		}
		return func(s *scratch) (bool, bool) {
			b, ok := s.vals[i].(bool)
			return b, ok
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			l, r := f.of(n.Left), f.of(n.Right)
			if l == nil || r == nil {
				return nil
			}
			and := n.Operator == "&&" || n.Operator == "and"
			return func(s *scratch) (bool, bool) {
				v, ok := l(s)
				if !ok {
					return false, false
				}
				if v != and { // false && …, true || …
					return v, true
				}
				return r(s)
			}
		case "in":
			return f.in(n)
		case "==", "!=", "<", "<=", ">", ">=":
			return f.compare(n)
		}
	}
	return nil
}

// constant is a literal of the parsed rule: a number (ints too, and a
// negated number), a string or a boolean.
func constant(n ast.Node) (any, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return float64(n.Value), true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.StringNode:
		return n.Value, true
	case *ast.BoolNode:
		return n.Value, true
	case *ast.UnaryNode:
		if n.Operator == "-" {
			switch x := n.Node.(type) {
			case *ast.IntegerNode:
				return -float64(x.Value), true
			case *ast.FloatNode:
				return -x.Value, true
			}
		}
	}
	return nil, false
}

// fastNumber is a numeric attribute value as expr compares it.
func fastNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		if x > 1<<53 || x < -(1<<53) {
			return 0, false
		}
		return float64(x), true
	}
	return 0, false
}

// mirror turns `c < x` into `x > c`.
var mirror = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (f fastCompiler) compare(n *ast.BinaryNode) fastNode {
	op := n.Operator
	i := f.slot(n.Left)
	c, isConst := constant(n.Right)
	if i < 0 || !isConst {
		i = f.slot(n.Right)
		c, isConst = constant(n.Left)
		op = mirror[op]
	}
	if i < 0 || !isConst {
		return nil
	}
	switch c := c.(type) {
	case float64:
		cmp := numCompare(op)
		return func(s *scratch) (bool, bool) {
			x, ok := fastNumber(s.vals[i])
			if !ok {
				return false, false
			}
			return cmp(x, c), true
		}
	case string:
		cmp := strCompare(op)
		return func(s *scratch) (bool, bool) {
			x, ok := s.vals[i].(string)
			if !ok {
				return false, false
			}
			return cmp(x, c), true
		}
	case bool:
		if op != "==" && op != "!=" {
			return nil
		}
		eq := op == "=="
		return func(s *scratch) (bool, bool) {
			x, ok := s.vals[i].(bool)
			if !ok {
				return false, false
			}
			return (x == c) == eq, true
		}
	}
	return nil
}

func numCompare(op string) func(a, b float64) bool {
	switch op {
	case "==":
		return func(a, b float64) bool { return a == b }
	case "!=":
		return func(a, b float64) bool { return a != b }
	case "<":
		return func(a, b float64) bool { return a < b }
	case "<=":
		return func(a, b float64) bool { return a <= b }
	case ">":
		return func(a, b float64) bool { return a > b }
	}
	return func(a, b float64) bool { return a >= b }
}

func strCompare(op string) func(a, b string) bool {
	switch op {
	case "==":
		return func(a, b string) bool { return a == b }
	case "!=":
		return func(a, b string) bool { return a != b }
	case "<":
		return func(a, b string) bool { return a < b }
	case "<=":
		return func(a, b string) bool { return a <= b }
	case ">":
		return func(a, b string) bool { return a > b }
	}
	return func(a, b string) bool { return a >= b }
}

// fastIn handles `attribute in ["a", "b", …]`, strings only (expr turns a
// constant list into a set keyed by the elements' type).
func (f fastCompiler) in(n *ast.BinaryNode) fastNode {
	i := f.slot(n.Left)
	arr, isArr := n.Right.(*ast.ArrayNode)
	if i < 0 || !isArr {
		return nil
	}
	set := make(map[string]bool, len(arr.Nodes))
	for _, e := range arr.Nodes {
		sn, ok := e.(*ast.StringNode)
		if !ok {
			return nil
		}
		set[sn.Value] = true
	}
	return func(s *scratch) (bool, bool) {
		x, ok := s.vals[i].(string)
		if !ok {
			return false, false
		}
		return set[x], true
	}
}
