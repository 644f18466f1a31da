package records

import (
	"testing"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestIncidentWindow(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		start, end       string
		ok               bool
		wantFrom, wantTo string
	}{
		{"2022-03-01T10:00:00+02:00", "", true, "2022-03-01T10:00:00+02:00", "2022-03-01T11:00:00+02:00"},
		{"2022-03-01T10:00:00+02:00", "2022-03-01T12:30:00+02:00", true, "2022-03-01T10:00:00+02:00", "2022-03-01T12:30:00+02:00"},
		{"2022-03-01T10:00:00Z", "2022-03-01T08:00:00Z", true, "2022-03-01T10:00:00Z", "2022-03-01T10:00:00Z"},
		{"2022-03-01T10:00:00Z", "yesterday", true, "2022-03-01T10:00:00Z", "2022-03-01T11:00:00Z"},
		{"1 March", "", false, "", ""},
	} {
		from, to, ok := IncidentWindow(&accordv1.Incident{Start: c.start, End: c.end})
		if ok != c.ok || (ok && (!from.Equal(at(c.wantFrom)) || !to.Equal(at(c.wantTo)))) {
			t.Errorf("%q..%q: %v..%v %v, want %s..%s %v", c.start, c.end, from, to, ok, c.wantFrom, c.wantTo, c.ok)
		}
	}
}
