package caseimport

import (
	"strconv"
	"strings"

	"github.com/accordfed/accord/node/caseformat"
)

// ErrorGroup is one kind of error of an import: the same field and reason
// on many lines, reported once with the number of lines and the first of
// them.
type ErrorGroup struct {
	// Field is the field's path ("incidents[0].start"); empty when the
	// error concerns the whole line.
	Field string
	// Reason says what is wrong, without the value of any one line ("must
	// be a date (YYYY-MM-DD)"); Example is the first line's full reason,
	// with its value.
	Reason, Example string
	// Lines counts the lines with this error; FirstLines are the first
	// MaxGroupLines of them, in order.
	Lines      int64
	FirstLines []int64
}

// Bounds of the grouped errors.
const (
	// MaxGroupLines is how many line numbers a group keeps.
	MaxGroupLines = 10
	// MaxGroups is how many groups a result keeps; errors of further kinds
	// are counted in a last group without a field, "other problems".
	MaxGroups = 200
)

// groupKey is what makes two errors the same kind.
type groupKey struct{ field, reason string }

// grouper groups errors as they come, in line order.
type grouper struct {
	groups []*group
	index  map[groupKey]*group
	other  *group
}

type group struct {
	ErrorGroup
	last int64 // the last line counted
}

// add counts an error; errors of one line come one after another, so that
// a line with the same error twice counts once.
func (g *grouper) add(e caseformat.FieldError) {
	k := groupKey{e.Field, generalReason(e.Reason)}
	grp := g.index[k]
	if grp == nil {
		if len(g.groups) >= MaxGroups {
			if g.other == nil {
				g.other = &group{ErrorGroup: ErrorGroup{Reason: "other problems (more than " + strconv.Itoa(MaxGroups) + " kinds)", Example: e.Error()}}
			}
			grp = g.other
		} else {
			if g.index == nil {
				g.index = map[groupKey]*group{}
			}
			grp = &group{ErrorGroup: ErrorGroup{Field: k.field, Reason: k.reason, Example: e.Reason}}
			g.index[k] = grp
			g.groups = append(g.groups, grp)
		}
	}
	if grp.Lines > 0 && grp.last == e.Line {
		return
	}
	grp.last = e.Line
	grp.Lines++
	if len(grp.FirstLines) < MaxGroupLines {
		grp.FirstLines = append(grp.FirstLines, e.Line)
	}
}

// result returns the groups in the order their first line came.
func (g *grouper) result() []ErrorGroup {
	out := make([]ErrorGroup, 0, len(g.groups)+1)
	for _, grp := range g.groups {
		out = append(out, grp.ErrorGroup)
	}
	if g.other != nil {
		out = append(out, g.other.ErrorGroup)
	}
	return out
}

// generalReason drops what is particular to one line from a reason: the
// value shown as " (got …)" at its end, and a count of problems not shown.
func generalReason(r string) string {
	if i := strings.LastIndex(r, " (got "); i > 0 && strings.HasSuffix(r, ")") {
		return r[:i]
	}
	if strings.HasSuffix(r, " more problems in this line not shown") {
		return "more problems in the line than are shown"
	}
	return r
}
