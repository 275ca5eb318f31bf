package stix

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrPattern is wrapped by every pattern syntax error.
var ErrPattern = errors.New("invalid STIX pattern")

// maxPatternLen bounds the input the parser accepts; maxDepth bounds the
// nesting of parentheses, so a hostile pattern cannot exhaust the stack.
const (
	maxPatternLen = 64 << 10
	maxDepth      = 64
)

// Pattern is a parsed STIX 2.1 pattern: what the parser learnt of it.
type Pattern struct {
	// ObjectTypes are the cyber-observable object types the pattern
	// compares, in order of first appearance.
	ObjectTypes []string
	// Comparisons counts the comparison expressions.
	Comparisons int
}

// ParsePattern parses a pattern of the STIX 2.1 patterning language
// (pattern_type "stix") and refuses anything outside its grammar:
//
//	pattern      = obsExprs EOF
//	obsExprs     = obsOr { "FOLLOWEDBY" obsOr }
//	obsOr        = obsAnd { "OR" obsAnd }
//	obsAnd       = obsQual { "AND" obsQual }
//	obsQual      = obsExpr { qualifier }
//	obsExpr      = "[" compOr "]" | "(" obsExprs ")"
//	qualifier    = "WITHIN" number "SECONDS" | "REPEATS" int "TIMES"
//	             | "START" t'…' "STOP" t'…'
//	compOr       = compAnd { "OR" compAnd }
//	compAnd      = propTest { "AND" propTest }
//	propTest     = path ["NOT"] op literal | path ["NOT"] "IN" "(" literal {"," literal} ")"
//	             | path ["NOT"] ("LIKE"|"MATCHES") string
//	             | path ["NOT"] ("ISSUBSET"|"ISSUPERSET") string
//	             | ["NOT"] "EXISTS" path | "(" compOr ")"
//	path         = objectType ":" component { "." component | "[" (int|"*") "]" }
//
// Keywords are upper case, as the grammar defines them.
func ParsePattern(s string) (*Pattern, error) {
	if len(s) > maxPatternLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrPattern, maxPatternLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, out: &Pattern{}}
	if err := p.obsExprs(0); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t, "unexpected %s after the pattern", t)
	}
	return p.out, nil
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tColon
	tDot
	tOp      // = != == < <= > >=
	tKeyword // AND OR NOT FOLLOWEDBY …
	tIdent   // identifier, hyphens allowed
	tInt
	tFloat
	tString // '…'
	tTime   // t'…'
	tHex    // h'…'
	tBinary // b'…'
	tBool
	tStar
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of pattern"
	}
	return strconv.Quote(t.text)
}

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true,
	"ISSUBSET": true, "ISSUPERSET": true, "EXISTS": true, "IN": true, "WITHIN": true,
	"SECONDS": true, "REPEATS": true, "TIMES": true, "START": true, "STOP": true,
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// Long on purpose: a lexer, one case per token class of the STIX pattern
// grammar.
func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '[':
			out = append(out, token{tLBrack, "[", i})
			i++
		case c == ']':
			out = append(out, token{tRBrack, "]", i})
			i++
		case c == '(':
			out = append(out, token{tLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")", i})
			i++
		case c == ',':
			out = append(out, token{tComma, ",", i})
			i++
		case c == ':':
			out = append(out, token{tColon, ":", i})
			i++
		case c == '*':
			out = append(out, token{tStar, "*", i})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, fmt.Errorf("%w: at %d: '!' must be followed by '='", ErrPattern, i)
			}
			out = append(out, token{tOp, op, i})
			i += len(op)
		case c == '\'':
			str, n, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, token{tString, str, start})
			i = n
		case (c == 't' || c == 'h' || c == 'b') && i+1 < len(s) && s[i+1] == '\'':
			str, n, err := lexString(s, i+1)
			if err != nil {
				return nil, err
			}
			var kind tokKind
			switch c {
			case 't':
				kind = tTime
				if _, err := ParseTimestamp(str); err != nil {
					return nil, fmt.Errorf("%w: at %d: timestamp %q: %v", ErrPattern, i, str, err)
				}
			case 'h':
				kind = tHex
				if _, err := hex.DecodeString(str); err != nil {
					return nil, fmt.Errorf("%w: at %d: hex literal %q is not an even number of hex digits", ErrPattern, i, str)
				}
			case 'b':
				kind = tBinary
				if _, err := base64.StdEncoding.DecodeString(str); err != nil {
					return nil, fmt.Errorf("%w: at %d: binary literal %q is not base64", ErrPattern, i, str)
				}
			}
			out = append(out, token{kind, str, start})
			i = n
		case c == '.' && len(out) > 0 && (out[len(out)-1].kind == tIdent || out[len(out)-1].kind == tString || out[len(out)-1].kind == tRBrack || out[len(out)-1].kind == tBool):
			out = append(out, token{tDot, ".", i})
			i++
		case isDigit(c) || c == '-' || c == '+' || c == '.':
			j := i
			if c == '-' || c == '+' {
				j++
			}
			digits := 0
			for j < len(s) && isDigit(s[j]) {
				j++
				digits++
			}
			kind := tInt
			if j < len(s) && s[j] == '.' {
				j++
				frac := 0
				for j < len(s) && isDigit(s[j]) {
					j++
					frac++
				}
				if frac == 0 {
					return nil, fmt.Errorf("%w: at %d: number without digits after '.'", ErrPattern, i)
				}
				kind = tFloat
			} else if digits == 0 {
				return nil, fmt.Errorf("%w: at %d: unexpected %q", ErrPattern, i, c)
			}
			out = append(out, token{kind, s[i:j], start})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			w := s[i:j]
			kind := tIdent
			if keywords[w] {
				kind = tKeyword
			} else if w == "true" || w == "false" {
				kind = tBool
			}
			out = append(out, token{kind, w, start})
			i = j
		default:
			return nil, fmt.Errorf("%w: at %d: unexpected character %q", ErrPattern, i, c)
		}
	}
	out = append(out, token{tEOF, "", len(s)})
	return out, nil
}

// lexString reads a quoted string starting at s[i] == '\”. The escapes
// are \' and \\, as the grammar defines them.
func lexString(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 >= len(s) || (s[j+1] != '\'' && s[j+1] != '\\') {
				return "", 0, fmt.Errorf("%w: at %d: only \\' and \\\\ may be escaped in a string", ErrPattern, j)
			}
			b.WriteByte(s[j+1])
			j++
		case '\'':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(s[j])
		}
	}
	return "", 0, fmt.Errorf("%w: at %d: unterminated string", ErrPattern, i)
}

type parser struct {
	toks []token
	i    int
	out  *Pattern
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) isKw(w string) bool { t := p.peek(); return t.kind == tKeyword && t.text == w }
func (p *parser) errf(t token, format string, a ...any) error {
	return fmt.Errorf("%w: at %d: %s", ErrPattern, t.pos, fmt.Sprintf(format, a...))
}
func (p *parser) expect(k tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.errf(t, "want %s, got %s", what, t)
	}
	return t, nil
}

func (p *parser) obsExprs(depth int) error {
	if depth > maxDepth {
		return p.errf(p.peek(), "nested deeper than %d", maxDepth)
	}
	for {
		if err := p.obsOr(depth); err != nil {
			return err
		}
		if !p.isKw("FOLLOWEDBY") {
			return nil
		}
		p.next()
	}
}

func (p *parser) obsOr(depth int) error {
	for {
		if err := p.obsAnd(depth); err != nil {
			return err
		}
		if !p.isKw("OR") {
			return nil
		}
		p.next()
	}
}

func (p *parser) obsAnd(depth int) error {
	for {
		if err := p.obsQual(depth); err != nil {
			return err
		}
		if !p.isKw("AND") {
			return nil
		}
		p.next()
	}
}

func (p *parser) obsQual(depth int) error {
	t := p.next()
	switch t.kind {
	case tLBrack:
		if err := p.compOr(depth + 1); err != nil {
			return err
		}
		if _, err := p.expect(tRBrack, "']'"); err != nil {
			return err
		}
	case tLParen:
		if err := p.obsExprs(depth + 1); err != nil {
			return err
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return err
		}
	default:
		return p.errf(t, "want '[' or '(' to start an observation expression, got %s", t)
	}
	for {
		switch {
		case p.isKw("WITHIN"):
			p.next()
			n := p.next()
			if n.kind != tInt && n.kind != tFloat {
				return p.errf(n, "WITHIN wants a number of seconds, got %s", n)
			}
			if v, err := strconv.ParseFloat(n.text, 64); err != nil || v <= 0 {
				return p.errf(n, "WITHIN wants a positive number, got %s", n)
			}
			if !p.isKw("SECONDS") {
				return p.errf(p.peek(), "want SECONDS, got %s", p.peek())
			}
			p.next()
		case p.isKw("REPEATS"):
			p.next()
			n := p.next()
			if v, err := strconv.Atoi(n.text); n.kind != tInt || err != nil || v <= 0 {
				return p.errf(n, "REPEATS wants a positive integer, got %s", n)
			}
			if !p.isKw("TIMES") {
				return p.errf(p.peek(), "want TIMES, got %s", p.peek())
			}
			p.next()
		case p.isKw("START"):
			p.next()
			a, err := p.expect(tTime, "a timestamp t'…' after START")
			if err != nil {
				return err
			}
			if !p.isKw("STOP") {
				return p.errf(p.peek(), "want STOP, got %s", p.peek())
			}
			p.next()
			b, err := p.expect(tTime, "a timestamp t'…' after STOP")
			if err != nil {
				return err
			}
			ta, _ := ParseTimestamp(a.text)
			tb, _ := ParseTimestamp(b.text)
			if !tb.After(ta) {
				return p.errf(b, "STOP must be later than START")
			}
		default:
			return nil
		}
	}
}

func (p *parser) compOr(depth int) error {
	for {
		if err := p.compAnd(depth); err != nil {
			return err
		}
		if !p.isKw("OR") {
			return nil
		}
		p.next()
	}
}

func (p *parser) compAnd(depth int) error {
	for {
		if err := p.propTest(depth); err != nil {
			return err
		}
		if !p.isKw("AND") {
			return nil
		}
		p.next()
	}
}

func (p *parser) propTest(depth int) error {
	if depth > maxDepth {
		return p.errf(p.peek(), "nested deeper than %d", maxDepth)
	}
	if p.peek().kind == tLParen {
		p.next()
		if err := p.compOr(depth + 1); err != nil {
			return err
		}
		_, err := p.expect(tRParen, "')'")
		return err
	}
	if p.isKw("NOT") && p.toks[p.i+1].kind == tKeyword && p.toks[p.i+1].text == "EXISTS" {
		p.next()
	}
	if p.isKw("EXISTS") {
		p.next()
		p.out.Comparisons++
		return p.path()
	}
	if err := p.path(); err != nil {
		return err
	}
	p.out.Comparisons++
	if p.isKw("NOT") {
		p.next()
	}
	t := p.next()
	switch {
	case t.kind == tOp:
		if t.text == "==" {
			return p.errf(t, "'==' is not a STIX comparison operator; use '='")
		}
		lit := p.next()
		switch lit.kind {
		case tString, tInt, tFloat, tTime, tHex, tBinary, tBool:
		default:
			return p.errf(lit, "want a literal after %s, got %s", t.text, lit)
		}
		if (lit.kind == tBool) && t.text != "=" && t.text != "!=" {
			return p.errf(lit, "a boolean can only be compared with = or !=")
		}
	case t.kind == tKeyword && t.text == "IN":
		if _, err := p.expect(tLParen, "'(' after IN"); err != nil {
			return err
		}
		for {
			lit := p.next()
			switch lit.kind {
			case tString, tInt, tFloat, tTime, tHex, tBinary, tBool:
			default:
				return p.errf(lit, "want a literal in the IN set, got %s", lit)
			}
			if p.peek().kind == tComma {
				p.next()
				continue
			}
			break
		}
		if _, err := p.expect(tRParen, "')' closing the IN set"); err != nil {
			return err
		}
	case t.kind == tKeyword && (t.text == "LIKE" || t.text == "MATCHES" || t.text == "ISSUBSET" || t.text == "ISSUPERSET"):
		if _, err := p.expect(tString, "a string after "+t.text); err != nil {
			return err
		}
	default:
		return p.errf(t, "want a comparison operator, got %s", t)
	}
	return nil
}

func (p *parser) path() error {
	t := p.next()
	if t.kind != tIdent || !validType(t.text) {
		return p.errf(t, "want an object type, got %s", t)
	}
	if _, err := p.expect(tColon, "':' after the object type"); err != nil {
		return err
	}
	seen := false
	for _, x := range p.out.ObjectTypes {
		if x == t.text {
			seen = true
		}
	}
	if !seen {
		p.out.ObjectTypes = append(p.out.ObjectTypes, t.text)
	}
	if err := p.component(); err != nil {
		return err
	}
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			if err := p.component(); err != nil {
				return err
			}
		case tFloat:
			// The lexer reads ".5" in "a.5" as a number; a path component
			// is never a number.
			return p.errf(p.peek(), "a property name cannot be a number")
		case tLBrack:
			p.next()
			n := p.next()
			if n.kind == tInt {
				if v, err := strconv.Atoi(n.text); err != nil || v < 0 {
					return p.errf(n, "a list index must be a non-negative integer")
				}
			} else if n.kind != tStar {
				return p.errf(n, "want a list index or '*', got %s", n)
			}
			if _, err := p.expect(tRBrack, "']' closing the list index"); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *parser) component() error {
	t := p.next()
	switch t.kind {
	case tString:
		return nil
	case tIdent, tBool:
		if strings.Contains(t.text, "-") {
			return p.errf(t, "property name %s has a hyphen; quote it", t)
		}
		return nil
	}
	return p.errf(t, "want a property name, got %s", t)
}
