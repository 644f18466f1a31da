package importclient

import (
	"strconv"
	"strings"

	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Problem is one kind of error of an import's result as the node reported
// it: the field and the reason, the lines that have it and what the first
// of them holds.
type Problem struct {
	// Field is the field's path ("incidents[0].start"); empty for the
	// whole line.
	Field string
	// Reason says what is wrong. For a kind found on one line only it is
	// that line's reason in full ("must be a date (YYYY-MM-DD), got
	// \"13/01/2022\""), else the reason without any line's value.
	Reason string
	// Lines counts the lines with this error; FirstLines are the first of
	// them (the node keeps ten); More says there are more than those.
	Lines      int64
	FirstLines []int64
	More       bool
	// Detail is what the first line's error says beyond Reason (its value,
	// "got \"13/01/2022\""); empty when it says nothing more.
	Detail string
}

// Single reports whether the problem is one line's.
func (p Problem) Single() bool { return p.Lines == 1 && len(p.FirstLines) == 1 }

// LineList is the lines that have the problem as the node lists them: the
// first of them, and "…" when there are more ("3, 7, 12, …").
func (p Problem) LineList() string {
	var b strings.Builder
	for i, n := range p.FirstLines {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(n, 10))
	}
	if p.More {
		b.WriteString(", …")
	}
	return b.String()
}

// LineError is a one-line problem as that line's error, "line 3:
// incidents[0].start: must be …".
func (p Problem) LineError() caseformat.FieldError {
	return caseformat.FieldError{Line: p.FirstLines[0], Field: p.Field, Reason: p.Reason}
}

// Problems are a result's errors: its groups (every error, by field and
// reason, in the order of their first line), or, from a node of an earlier
// version that does not group them, its first errors one by one.
func Problems(res *accordv1.ImportResult) []Problem {
	var out []Problem
	if gs := res.GetErrorGroups(); len(gs) > 0 {
		for _, g := range gs {
			out = append(out, problemOf(g))
		}
		return out
	}
	for _, e := range res.GetErrors() {
		out = append(out, Problem{Field: e.GetField(), Reason: e.GetReason(), Lines: 1, FirstLines: []int64{e.GetLine()}})
	}
	return out
}

// Unlisted is how many invalid lines a result from a node that does not
// group its errors leaves out of Problems (it lists the first errors only);
// 0 when the node groups them.
func Unlisted(res *accordv1.ImportResult) int64 {
	if len(res.GetErrorGroups()) > 0 || len(res.GetErrors()) == 0 {
		return 0
	}
	seen := map[int64]bool{}
	for _, e := range res.GetErrors() {
		seen[e.GetLine()] = true
	}
	return max(res.GetInvalid()-int64(len(seen)), 0)
}

func problemOf(g *accordv1.ImportErrorGroup) Problem {
	first := g.GetFirstLines()
	p := Problem{Field: g.GetField(), Reason: g.GetReason(), Lines: g.GetLines(), FirstLines: first, More: g.GetLines() > int64(len(first))}
	if p.Single() {
		p.Reason = g.GetExample()
		return p
	}
	if ex := g.GetExample(); ex != g.GetReason() && len(first) > 0 {
		detail := strings.TrimPrefix(ex, g.GetReason())
		if detail != ex {
			detail = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(detail), "("), ")")
		}
		p.Detail = detail
	}
	return p
}
