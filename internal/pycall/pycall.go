// Package pycall parses the Python call expressions that name a model in
// MONAI code and in the fixture manifests, e.g.
//
//	ResNet(block='basic', layers=[1, 1, 1, 1], block_inplanes=[8, 16, 32, 64], n_input_channels=4)
//	LaMIMClassifier(ViTAutoEnc(in_channels=4, img_size=32), flat=(8 // 3) * (96 // 3))
//
// It understands names (dotted), integers, floats, strings, True/False/None,
// lists, tuples, dicts, nested calls, keyword arguments and integer/float
// arithmetic (+ - * / // % and parentheses), which it folds into constants.
// Nothing is evaluated beyond that arithmetic: a bare name stays an Ident.
// Bind maps a call's arguments onto a parameter list and reports every
// unknown, duplicate or mistyped argument in one error.
package pycall

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("pycall: syntax error")

// ErrArgs is wrapped by every argument-binding error.
var ErrArgs = errors.New("pycall: bad arguments")

// Value is a parsed Python value: int64, float64, string, bool, nil (None),
// []Value (list or tuple), Dict, Ident or *Call.
type Value any

// Ident is a bare (possibly dotted) name that is not called, such as
// SEResNeXtBottleneck or Norm.BATCH.
type Ident string

// Dict is a Python dict literal, in source order.
type Dict []Kwarg

// Kwarg is one keyword argument (or dict entry; the key of a dict entry
// is its Python repr when not a string).
type Kwarg struct {
	Name  string
	Value Value
}

// Call is a call expression: Name(Args..., Kwargs...).
type Call struct {
	Name   string
	Args   []Value
	Kwargs []Kwarg
}

// String renders the call back in Python syntax.
func (c *Call) String() string {
	var parts []string
	for _, a := range c.Args {
		parts = append(parts, Repr(a))
	}
	for _, k := range c.Kwargs {
		parts = append(parts, k.Name+"="+Repr(k.Value))
	}
	return c.Name + "(" + strings.Join(parts, ", ") + ")"
}

// Repr renders v in Python syntax.
func Repr(v Value) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	case string:
		return strconv.Quote(x)
	case Ident:
		return string(x)
	case *Call:
		return x.String()
	case []Value:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = Repr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case Dict:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = strconv.Quote(e.Name) + ": " + Repr(e.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("<%T>", v)
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

// Parse parses one call expression. Text after a '#' outside a string is a
// comment. Anything other than a single call is an error.
func Parse(src string) (*Call, error) {
	p := &parser{src: src}
	p.next()
	v := p.expr(0)
	if p.err == nil && p.tok.kind != tEOF {
		p.errorf("unexpected %s after the expression", p.tok)
	}
	if p.err != nil {
		return nil, p.err
	}
	c, ok := v.(*Call)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a call expression", ErrSyntax, src)
	}
	return c, nil
}

// ParseValue parses any expression (a literal, list, call ...).
func ParseValue(src string) (Value, error) {
	p := &parser{src: src}
	p.next()
	v := p.expr(0)
	if p.err == nil && p.tok.kind != tEOF {
		p.errorf("unexpected %s after the expression", p.tok)
	}
	if p.err != nil {
		return nil, p.err
	}
	return v, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tInt
	tFloat
	tString
	tOp // ( ) [ ] { } , = : . + - * / // %
)

type token struct {
	kind tokKind
	text string
	pos  int
	i    int64
	f    float64
	s    string
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return fmt.Sprintf("string %q at offset %d", t.s, t.pos)
	}
	return fmt.Sprintf("%q at offset %d", t.text, t.pos)
}

type parser struct {
	src   string
	off   int
	tok   token
	err   error
	depth int
}

func (p *parser) errorf(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s (in %q)", ErrSyntax, fmt.Sprintf(format, args...), p.src)
	}
}

func isLetter(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// next reads the next token into p.tok.
func (p *parser) next() {
	if p.err != nil {
		p.tok = token{kind: tEOF, pos: p.off}
		return
	}
	s := p.src
	for p.off < len(s) {
		c := s[p.off]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\' {
			p.off++
			continue
		}
		if c == '#' {
			for p.off < len(s) && s[p.off] != '\n' {
				p.off++
			}
			continue
		}
		break
	}
	start := p.off
	if p.off >= len(s) {
		p.tok = token{kind: tEOF, pos: start}
		return
	}
	c := s[p.off]
	switch {
	case isLetter(c):
		for p.off < len(s) && (isLetter(s[p.off]) || isDigit(s[p.off])) {
			p.off++
		}
		p.tok = token{kind: tName, text: s[start:p.off], pos: start}
	case isDigit(c) || (c == '.' && p.off+1 < len(s) && isDigit(s[p.off+1])):
		p.number(start)
	case c == '\'' || c == '"':
		p.str(start, c)
	default:
		if strings.HasPrefix(s[p.off:], "//") || strings.HasPrefix(s[p.off:], "**") {
			p.off += 2
		} else if strings.IndexByte("()[]{},=:.+-*/%", c) >= 0 {
			p.off++
		} else {
			p.errorf("unexpected character %q at offset %d", c, start)
			p.tok = token{kind: tEOF, pos: start}
			return
		}
		p.tok = token{kind: tOp, text: s[start:p.off], pos: start}
	}
}

func (p *parser) number(start int) {
	s := p.src
	isFloat := false
	for p.off < len(s) {
		c := s[p.off]
		switch {
		case isDigit(c) || c == '_':
		case c == '.':
			isFloat = true
		case c == 'e' || c == 'E':
			isFloat = true
			if p.off+1 < len(s) && (s[p.off+1] == '+' || s[p.off+1] == '-') {
				p.off++
			}
		default:
			goto done
		}
		p.off++
	}
done:
	text := s[start:p.off]
	clean := strings.ReplaceAll(text, "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			p.errorf("bad number %q at offset %d", text, start)
		}
		p.tok = token{kind: tFloat, text: text, pos: start, f: f}
		return
	}
	i, err := strconv.ParseInt(clean, 10, 64)
	if err != nil {
		p.errorf("bad integer %q at offset %d (out of range?)", text, start)
	}
	p.tok = token{kind: tInt, text: text, pos: start, i: i}
}

func (p *parser) str(start int, quote byte) {
	s := p.src
	p.off++
	var b strings.Builder
	for {
		if p.off >= len(s) {
			p.errorf("unterminated string at offset %d", start)
			p.tok = token{kind: tEOF, pos: start}
			return
		}
		c := s[p.off]
		if c == quote {
			p.off++
			break
		}
		if c == '\\' && p.off+1 < len(s) {
			p.off++
			switch e := s[p.off]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
			p.off++
			continue
		}
		b.WriteByte(c)
		p.off++
	}
	p.tok = token{kind: tString, text: s[start:p.off], pos: start, s: b.String()}
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

func (p *parser) expect(op string) {
	if !p.isOp(op) {
		p.errorf("expected %q, found %s", op, p.tok)
		return
	}
	p.next()
}

// binary operator precedence (higher binds tighter).
func prec(op string) int {
	switch op {
	case "+", "-":
		return 1
	case "*", "/", "//", "%":
		return 2
	}
	return 0
}

// expr parses an expression whose binary operators bind tighter than min.
func (p *parser) expr(min int) Value {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		p.errorf("expression nested deeper than %d", maxDepth)
		return nil
	}
	lhs := p.unary()
	for p.err == nil && p.tok.kind == tOp && prec(p.tok.text) > min {
		op, pos := p.tok.text, p.tok.pos
		p.next()
		rhs := p.expr(prec(op))
		if p.err != nil {
			return nil
		}
		lhs = p.arith(op, lhs, rhs, pos)
	}
	return lhs
}

func (p *parser) unary() Value {
	if p.isOp("-") || p.isOp("+") {
		neg := p.tok.text == "-"
		pos := p.tok.pos
		p.next()
		v := p.unaryNested()
		if !neg || p.err != nil {
			return v
		}
		switch x := v.(type) {
		case int64:
			if x == math.MinInt64 {
				p.errorf("integer overflow at offset %d", pos)
				return nil
			}
			return -x
		case float64:
			return -x
		}
		p.errorf("unary minus applied to %s at offset %d", Repr(v), pos)
		return nil
	}
	return p.atom()
}

func (p *parser) unaryNested() Value {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		p.errorf("expression nested deeper than %d", maxDepth)
		return nil
	}
	return p.unary()
}

// arith folds a binary operation on constants.
func (p *parser) arith(op string, a, b Value, pos int) Value {
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt && op != "/" {
		switch op {
		case "+":
			r := ai + bi
			if (r > ai) != (bi > 0) {
				p.errorf("integer overflow at offset %d", pos)
			}
			return r
		case "-":
			r := ai - bi
			if (r < ai) != (bi > 0) {
				p.errorf("integer overflow at offset %d", pos)
			}
			return r
		case "*":
			if ai != 0 && bi != 0 {
				r := ai * bi
				if r/bi != ai || (ai == -1 && bi == math.MinInt64) || (bi == -1 && ai == math.MinInt64) {
					p.errorf("integer overflow at offset %d", pos)
				}
				return r
			}
			return int64(0)
		case "//", "%":
			if bi == 0 {
				p.errorf("integer division by zero at offset %d", pos)
				return nil
			}
			if ai == math.MinInt64 && bi == -1 {
				p.errorf("integer overflow at offset %d", pos)
				return nil
			}
			q, r := ai/bi, ai%bi
			if r != 0 && (r < 0) != (bi < 0) { // Python floors
				q--
				r += bi
			}
			if op == "//" {
				return q
			}
			return r
		}
	}
	af, aNum := toFloat(a)
	bf, bNum := toFloat(b)
	if !aNum || !bNum {
		if op == "+" {
			if as, ok := a.(string); ok {
				if bs, ok := b.(string); ok {
					return as + bs
				}
			}
		}
		p.errorf("operator %q at offset %d needs numbers, got %s and %s", op, pos, Repr(a), Repr(b))
		return nil
	}
	switch op {
	case "+":
		return af + bf
	case "-":
		return af - bf
	case "*":
		return af * bf
	case "/", "//", "%":
		if bf == 0 {
			p.errorf("division by zero at offset %d", pos)
			return nil
		}
		switch op {
		case "/":
			return af / bf
		case "//":
			return math.Floor(af / bf)
		}
		return af - math.Floor(af/bf)*bf
	}
	p.errorf("unsupported operator %q at offset %d", op, pos)
	return nil
}

func toFloat(v Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (p *parser) atom() Value {
	t := p.tok
	switch t.kind {
	case tInt:
		p.next()
		return t.i
	case tFloat:
		p.next()
		return t.f
	case tString:
		p.next()
		if p.tok.kind != tString {
			return t.s
		}
		var b strings.Builder // implicit concatenation, linear in the input
		b.WriteString(t.s)
		for p.tok.kind == tString {
			b.WriteString(p.tok.s)
			p.next()
		}
		return b.String()
	case tName:
		p.next()
		switch t.text {
		case "True":
			return true
		case "False":
			return false
		case "None":
			return nil
		}
		name := t.text
		for p.isOp(".") {
			p.next()
			if p.tok.kind != tName {
				p.errorf("expected a name after '.', found %s", p.tok)
				return nil
			}
			name += "." + p.tok.text
			p.next()
		}
		if p.isOp("(") {
			return p.call(name)
		}
		return Ident(name)
	case tOp:
		switch t.text {
		case "(":
			p.next()
			if p.isOp(")") {
				p.next()
				return []Value{}
			}
			v := p.expr(0)
			if p.isOp(",") { // tuple
				items := []Value{v}
				for p.err == nil && p.isOp(",") {
					p.next()
					if p.isOp(")") {
						break
					}
					items = append(items, p.expr(0))
				}
				p.expect(")")
				return items
			}
			p.expect(")")
			return v
		case "[":
			p.next()
			items := []Value{}
			for p.err == nil && !p.isOp("]") {
				items = append(items, p.expr(0))
				if !p.isOp(",") {
					break
				}
				p.next()
			}
			p.expect("]")
			return items
		case "{":
			p.next()
			d := Dict{}
			for p.err == nil && !p.isOp("}") {
				kpos := p.tok.pos
				k := p.expr(0)
				p.expect(":")
				v := p.expr(0)
				if p.err != nil {
					return nil
				}
				var ks string
				switch k := k.(type) {
				case string:
					ks = k
				case int64, float64, bool, nil:
					ks = Repr(k)
				default: // as Python: a dict or list key is unhashable (and its Repr, quoted again per level, would grow exponentially)
					p.errorf("unhashable dictionary key %s at offset %d", Repr(k), kpos)
					return nil
				}
				d = append(d, Kwarg{ks, v})
				if !p.isOp(",") {
					break
				}
				p.next()
			}
			p.expect("}")
			return d
		}
	}
	p.errorf("unexpected %s", t)
	return nil
}

func (p *parser) call(name string) *Call {
	c := &Call{Name: name}
	p.expect("(")
	for p.err == nil && !p.isOp(")") {
		// keyword argument: name '=' expr
		if p.tok.kind == tName {
			save, saveTok := p.off, p.tok
			p.next()
			if p.isOp("=") {
				p.next()
				c.Kwargs = append(c.Kwargs, Kwarg{saveTok.text, p.expr(0)})
				goto sep
			}
			p.off, p.tok = save, saveTok
		}
		if len(c.Kwargs) > 0 {
			p.errorf("positional argument after keyword arguments at %s", p.tok)
			return nil
		}
		c.Args = append(c.Args, p.expr(0))
	sep:
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expect(")")
	return c
}
