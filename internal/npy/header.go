package npy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// header is the decoded python-dict header of a .npy file.
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// errHeader marks malformed headers so callers can match them with errors.Is.
var errHeader = errors.New("npy: malformed header")

// parseHeader decodes the header dictionary, e.g.
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//
// It is a small recursive-descent parser for the literal subset numpy
// writes (strings, True/False, tuples of integers); nothing is evaluated.
func parseHeader(s string) (header, error) {
	p := &dictParser{s: s}
	var h header
	var seen [3]bool
	p.skipSpace()
	if !p.eat('{') {
		return h, fmt.Errorf("%w: want '{' at the start, got %q", errHeader, p.rest())
	}
	for {
		p.skipSpace()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, fmt.Errorf("%w: dictionary key: %v", errHeader, err)
		}
		p.skipSpace()
		if !p.eat(':') {
			return h, fmt.Errorf("%w: want ':' after key %q", errHeader, key)
		}
		p.skipSpace()
		switch key {
		case "descr":
			h.descr, err = p.str()
			seen[0] = true
		case "fortran_order":
			h.fortran, err = p.boolean()
			seen[1] = true
		case "shape":
			h.shape, err = p.tuple()
			seen[2] = true
		default:
			return h, fmt.Errorf("%w: unexpected key %q (want descr, fortran_order, shape)", errHeader, key)
		}
		if err != nil {
			return h, fmt.Errorf("%w: value of %q: %v", errHeader, key, err)
		}
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		p.skipSpace()
		if !p.eat('}') {
			return h, fmt.Errorf("%w: want ',' or '}' after %q, got %q", errHeader, key, p.rest())
		}
		break
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return h, fmt.Errorf("%w: trailing data %q after the dictionary", errHeader, p.rest())
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return h, fmt.Errorf("%w: want keys descr, fortran_order and shape, got %q", errHeader, s)
	}
	return h, nil
}

type dictParser struct {
	s string
	i int
}

func (p *dictParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 32 {
		r = r[:32] + "..."
	}
	return r
}

func (p *dictParser) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str parses a single- or double-quoted string without escapes (numpy
// never writes escapes in these fields).
func (p *dictParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", fmt.Errorf("want a quoted string, got %q", p.rest())
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", fmt.Errorf("escape sequences are not supported in %q", v)
	}
	p.i += end + 2
	return v, nil
}

func (p *dictParser) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return false, fmt.Errorf("want True or False, got %q", p.rest())
}

// tuple parses "()", "(5,)", "(2, 3)" and python 2's "(2L, 3L)".
func (p *dictParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("want '(', got %q", p.rest())
	}
	shape := []int{}
	for {
		p.skipSpace()
		if p.eat(')') {
			return shape, nil
		}
		if len(shape) >= maxDims {
			return nil, fmt.Errorf("more than %d dimensions", maxDims)
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if start == p.i {
			return nil, fmt.Errorf("want a non-negative integer, got %q", p.rest())
		}
		d, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil || d > maxDim {
			return nil, fmt.Errorf("dimension %q out of range", p.s[start:p.i])
		}
		shape = append(shape, int(d))
		p.eat('L')
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		p.skipSpace()
		if !p.eat(')') {
			return nil, fmt.Errorf("want ',' or ')' in shape, got %q", p.rest())
		}
		return shape, nil
	}
}

// formatHeader renders the dictionary exactly as numpy does.
func formatHeader(descr string, fortran bool, shape []int) string {
	var b strings.Builder
	b.WriteString("{'descr': '")
	b.WriteString(descr)
	b.WriteString("', 'fortran_order': ")
	if fortran {
		b.WriteString("True")
	} else {
		b.WriteString("False")
	}
	b.WriteString(", 'shape': (")
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteString("), }")
	return b.String()
}
