package decide

import (
	"fmt"

	"github.com/expr-lang/expr/vm"
)

// eval runs rule r for this decision, once: the result is kept for every
// other offer or campaign with the same rule text. A rule that reads an
// attribute the customer lacks is false without being run.
func (e *Engine) eval(s *scratch, r *rule) *ruleResult {
	res := &s.rules[r.id]
	if res.state != stUnknown {
		return res
	}
	for i, fi := range r.needIdx {
		if s.vals[fi] == nil {
			res.state, res.missing = stMissing, i
			return res
		}
	}
	if r.fast != nil {
		if v, ok := r.fast(s); ok {
			res.state = stFalse
			if v {
				res.state = stTrue
			}
			return res
		}
	}
	s.budget.steps = 0
	out, err := s.run(r.prog)
	switch b, ok := out.(bool); {
	case err != nil:
		res.state, res.err = stError, err
	case !ok:
		res.state, res.err = stError, fmt.Errorf(msgRuleNotBool, out)
	case b:
		res.state = stTrue
	default:
		res.state = stFalse
	}
	return res
}

// run evaluates a program on the decision's environment. expr recovers
// its own panics; the deferred recover covers the sandbox's functions and
// anything expr misses.
func (s *scratch) run(p *vm.Program) (out any, err error) {
	defer func() {
		if x := recover(); x != nil {
			out, err = nil, fmt.Errorf("%v", x)
		}
	}()
	return s.vm.Run(p, s.env)
}
