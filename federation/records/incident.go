package records

import (
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// IncidentWindow returns an incident's time window [start, end) as the
// interchange format reads it: an empty end is start + 1 h, and an end
// before the start is the start (as the matcher reads it). ok is false
// when the start does not parse; an end that does not parse counts as
// empty.
func IncidentWindow(in *accordv1.Incident) (start, end time.Time, ok bool) {
	start, err := time.Parse(time.RFC3339, in.GetStart())
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	end = start.Add(time.Hour)
	if in.GetEnd() != "" {
		if e, err := time.Parse(time.RFC3339, in.GetEnd()); err == nil {
			end = e
		}
	}
	if end.Before(start) {
		end = start
	}
	return start, end, true
}
