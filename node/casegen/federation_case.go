package casegen

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// recentNear returns an earlier incident in e's region within 60 days of
// it, or nil; with no shared incidents, only one that member alone
// investigates.
func (f *fedGen) recentNear(e *event, member string) *event {
	region := places[e.place].region
	var near []*event
	for _, r := range f.recent {
		if places[r.place].region != region {
			continue
		}
		if f.opts.SharedFraction == 0 && slices.ContainsFunc(r.members, func(m string) bool { return m != member }) {
			continue
		}
		if d := e.at.Sub(r.at); d < 60*24*time.Hour && d > -60*24*time.Hour {
			near = append(near, r)
		}
	}
	if len(near) == 0 {
		return nil
	}
	return near[f.rng.IntN(len(near))]
}

// incident writes e as an office of style st records it, in Kyiv time
// when local is true, in UTC otherwise.
func (f *fedGen) incident(st *style, e *event, local bool) *accordv1.Incident {
	rng := f.rng
	p := places[e.place]
	in := &accordv1.Incident{
		Precision: accordv1.TimePrecision(st.precPick.pick(rng)),
		Place:     translit(p.cyrillic, scheme(st.placePick.pick(rng)), true),
	}
	if f.chance(st.region) {
		in.Region = regions[p.region].name
	}
	midnight := func(t time.Time) time.Time {
		if local {
			return kyivMidnight(t)
		}
		return t.Truncate(24 * time.Hour)
	}
	var start, end time.Time
	switch in.Precision {
	case accordv1.TimePrecision_TIME_PRECISION_MINUTE:
		start = e.at.Add(time.Duration(math.Round(rng.NormFloat64()*4)) * time.Minute)
		end = start.Add(time.Minute)
	case accordv1.TimePrecision_TIME_PRECISION_HOUR:
		start = e.at.Truncate(time.Hour)
		if f.chance(0.12) {
			start = start.Add(time.Duration(1-2*rng.IntN(2)) * time.Hour) // recalled an hour off
		}
		end = start.Add(time.Hour)
	case accordv1.TimePrecision_TIME_PRECISION_DAY:
		start = midnight(e.at)
		end = midnight(start.Add(27 * time.Hour))
	case accordv1.TimePrecision_TIME_PRECISION_WEEK:
		start = midnight(midnight(e.at).Add(-time.Duration(rng.IntN(7))*24*time.Hour + 3*time.Hour))
		end = midnight(start.Add(7*24*time.Hour + 3*time.Hour))
	default: // month
		start, end = monthOf(e.at, local)
	}
	in.Start = fmtTime(start, local, st.zulu)
	in.End = fmtTime(end, local, st.zulu)

	if f.chance(st.coords) {
		var lat, lon float64
		var radius int64
		switch st.coordPick.pick(rng) {
		case 0: // the point as found
			lat, lon, radius = e.lat, e.lon, 10+int64(rng.IntN(90))
		case 1: // the point as the office located it
			sigma := st.jitterM * (0.3 + rng.Float64())
			lat = e.lat + rng.NormFloat64()*sigma/111320
			lon = e.lon + rng.NormFloat64()*sigma/111320/math.Cos(e.lat*math.Pi/180)
			radius = int64(math.Round(2 * sigma))
		default: // the settlement's centre
			lat, lon, radius = p.lat, p.lon, 2000+int64(rng.IntN(3001))
		}
		in.Lat = proto.Float64(math.Round(lat*1e5) / 1e5)
		in.Lon = proto.Float64(math.Round(lon*1e5) / 1e5)
		in.LocationPrecisionM = proto.Int64(radius)
	}
	return in
}

// crimeCodes: the member's national code with the share st.national, and
// Rome Statute references (always when no national code is cited).
func (f *fedGen) crimeCodes(member string, st *style, crime int) []string {
	rng := f.rng
	ct := crimeTypes[crime]
	var codes []string
	nat := nationalCode(member, crime)
	withNat := nat != "" && f.chance(st.national)
	if !withNat || f.chance(st.rs) {
		n := 1
		if f.chance(0.08) {
			n = 2
		}
		first := rng.IntN(len(ct.codes))
		for i := range min(n, len(ct.codes)) {
			codes = append(codes, ct.codes[(first+i)%len(ct.codes)])
		}
	}
	if withNat {
		codes = append(codes, nat)
	}
	return codes
}

// unit writes unit u in one of the forms of style st.
func (f *fedGen) unit(st *style, u int) *accordv1.Perpetrator {
	un := units[u]
	ut := unitTypes[un.typ]
	p := &accordv1.Perpetrator{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT}
	switch st.unitPick.pick(f.rng) {
	case 0:
		p.Name = ordinal(un.number) + " " + ut.name
	case 1:
		p.Name = strconv.Itoa(un.number) + " " + ut.abbr
	case 2:
		p.Name = strconv.Itoa(un.number) + " " + unitAbbrCyr[un.typ]
	case 3:
		p.Name = militaryUnit[st.lang] + strconv.Itoa(un.post)
	default:
		if st.lang == "uk" {
			p.Name = "в/ч " + strconv.Itoa(un.post)
		} else {
			p.Name = "v/ch " + strconv.Itoa(un.post)
		}
	}
	return p
}

// writePerson writes p as an office of style st spells it.
func (f *fedGen) writePerson(st *style, p fedPerson) *accordv1.Person {
	sc := scheme(st.personPick.pick(f.rng))
	first := translit(p.first.cyrillic, sc, !p.female)
	last := translit(p.last.cyrillic, sc, !p.female)
	out := &accordv1.Person{Role: p.role, Name: first + " " + last}
	if f.chance(st.surnameFirst) {
		out.Name = strings.ToUpper(last) + " " + first
	}
	if f.chance(st.birthYear) {
		b := p.birth
		if f.chance(0.04) {
			b += 1 - 2*f.rng.IntN(2) // a year off
		}
		out.BirthYear = proto.Int32(int32(min(b, f.opts.StartYear-1)))
	}
	return out
}

// kyivOffset is Kyiv's offset from UTC at instant t: +3 h in summer time
// (from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
// Sunday of October), +2 h otherwise.
func kyivOffset(t time.Time) time.Duration {
	y := t.Year()
	if !t.Before(lastSunday(y, time.March)) && t.Before(lastSunday(y, time.October)) {
		return 3 * time.Hour
	}
	return 2 * time.Hour
}

// kyivWall is Kyiv's wall clock at instant t, in a time.Time's UTC fields.
func kyivWall(t time.Time) time.Time { return t.UTC().Add(kyivOffset(t)) }

// kyivMidnight is the instant of the last midnight in Kyiv at or before t.
func kyivMidnight(t time.Time) time.Time {
	w := kyivWall(t)
	wm := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
	// DST changes at 03:00 or 04:00 local time, never near midnight.
	return wm.Add(-kyivOffset(wm.Add(-2 * time.Hour)))
}

// monthOf is the calendar month around t, in Kyiv or UTC.
func monthOf(t time.Time, local bool) (time.Time, time.Time) {
	if !local {
		s := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 1, 0)
	}
	w := kyivWall(t)
	s := time.Date(w.Year(), w.Month(), 1, 0, 0, 0, 0, time.UTC)
	e := s.AddDate(0, 1, 0)
	return s.Add(-kyivOffset(s.Add(-2 * time.Hour))), e.Add(-kyivOffset(e.Add(-2 * time.Hour)))
}

// fmtTime writes instant t in RFC 3339, in Kyiv's time with its offset
// or in UTC (as Z or +00:00).
func fmtTime(t time.Time, local, zulu bool) string {
	const layout = "2006-01-02T15:04:05"
	switch {
	case local:
		off := "+02:00"
		if kyivOffset(t) == 3*time.Hour {
			off = "+03:00"
		}
		return kyivWall(t).Format(layout) + off
	case zulu:
		return t.UTC().Format(layout) + "Z"
	}
	return t.UTC().Format(layout) + "+00:00"
}
