package casesearch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/textfold"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Limits of a query.
const (
	// MaxRadiusKm bounds the radius of a near search.
	MaxRadiusKm = 1000
	// MaxPlaceBytes and MaxTextBytes bound the text filters.
	MaxPlaceBytes = 200
	MaxTextBytes  = 500
	// AliasKm is how close two names' learned locations must be for the
	// names to be taken as one place (the matcher's own level "names at
	// the same learned location" takes 3 km).
	AliasKm = 3
)

// Aliases is what a search needs of the matcher: the folded place names
// it learned at the same location as a folded name (node/matcher,
// federation/matching.Index.PlaceAliases).
type Aliases interface {
	PlaceAliases(fold string, km float64) []string
}

// Input is a query as an API request gives it.
type Input struct {
	Place                      string
	Text                       string
	NearLat, NearLon, RadiusKm float64
}

// word is one folded word of a place name or query.
type word struct {
	fold, skel, shape string
}

func newWord(fold string) word {
	shape := []byte(fold)
	for i, c := range shape {
		if c == 'a' || c == 'i' || c == 'u' {
			shape[i] = 'V'
		}
	}
	return word{fold: fold, skel: textfold.SkeletonWord(fold), shape: string(shape)}
}

// foldWords returns the folded words of a place name and its whole fold.
func foldWords(name string) ([]word, string) {
	fold, _ := matching.FoldPlace(name)
	fs := strings.Fields(fold)
	out := make([]word, len(fs))
	for i, f := range fs {
		out[i] = newWord(f)
	}
	return out, fold
}

// like reports whether a place word matches a query word: equal folds, or
// equal skeletons long enough (3 consonants) or of the same shape.
func (q word) like(p word) bool {
	if q.fold == p.fold {
		return true
	}
	if q.skel == "" || q.skel != p.skel {
		return false
	}
	return len(q.skel) >= 3 || q.shape == p.shape
}

// Query is a validated search: the zero Query matches everything.
type Query struct {
	place   []word
	prefix  bool // the last place word is a prefix
	fold    string
	aliases map[string]bool
	text    []string
	near    bool
	lat     float64
	lon     float64
	km      float64
	// window, when set, lets Search skip documents whose incidents all
	// lie more than a day outside [loDay, hiDay] (WithWindow).
	window       bool
	loDay, hiDay int32
}

// WithWindow returns q with a time window [lo, hi) (either zero: open)
// that Search uses to skip documents whose incidents cannot touch it. It
// narrows candidates only: the caller still checks the window on each
// record, as before. It is not part of Key.
func (q Query) WithWindow(lo, hi time.Time) Query {
	if lo.IsZero() && hi.IsZero() {
		return q
	}
	q.window, q.loDay, q.hiDay = true, math.MinInt32, math.MaxInt32
	if !lo.IsZero() {
		q.loDay = dayOf(lo) - 1
	}
	if !hi.IsZero() {
		q.hiDay = dayOf(hi) + 1
	}
	return q
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", grpcserver.ErrInvalidArgument, field, fmt.Sprintf(format, args...))
}

// Parse validates in and folds it; prefix is put before the field names
// of errors ("filter." for a CaseFilter). aliases may be nil.
func Parse(in Input, prefix string, aliases Aliases) (Query, error) {
	var q Query
	if len(in.Place) > MaxPlaceBytes {
		return q, invalid(prefix+"place", "at most %d bytes", MaxPlaceBytes)
	}
	if len(in.Text) > MaxTextBytes {
		return q, invalid(prefix+"text", "at most %d bytes", MaxTextBytes)
	}
	place := strings.TrimSpace(in.Place)
	if strings.HasSuffix(place, "*") {
		q.prefix = true
		place = strings.TrimSpace(strings.TrimRight(place, "*"))
	}
	q.place, q.fold = foldWords(place)
	if strings.TrimSpace(in.Place) != "" && len(q.place) == 0 {
		return q, invalid(prefix+"place", "%q has no letters or digits", in.Place)
	}
	if q.prefix && len(q.place) > 0 && len(q.place[len(q.place)-1].fold) < 2 {
		return q, invalid(prefix+"place", "a prefix (ending in *) needs at least two letters")
	}
	if aliases != nil && q.fold != "" && !q.prefix {
		for _, a := range aliases.PlaceAliases(q.fold, AliasKm) {
			if q.aliases == nil {
				q.aliases = map[string]bool{}
			}
			q.aliases[a] = true
		}
	}
	for _, w := range textfold.Words(in.Text) {
		if f := textfold.FoldWord(w); f != "" {
			q.text = append(q.text, f)
		}
	}
	if strings.TrimSpace(in.Text) != "" && len(q.text) == 0 {
		return q, invalid(prefix+"text", "%q has no letters or digits", in.Text)
	}
	for _, v := range []struct {
		field string
		val   float64
	}{{"near_lat", in.NearLat}, {"near_lon", in.NearLon}, {"radius_km", in.RadiusKm}} {
		if math.IsNaN(v.val) || math.IsInf(v.val, 0) {
			return q, invalid(prefix+v.field, "not a number")
		}
	}
	switch {
	case in.RadiusKm < 0 || in.RadiusKm > MaxRadiusKm:
		return q, invalid(prefix+"radius_km", "%g: must be more than 0 and at most %d km", in.RadiusKm, MaxRadiusKm)
	case in.RadiusKm == 0 && (in.NearLat != 0 || in.NearLon != 0):
		return q, invalid(prefix+"radius_km", "required with near_lat and near_lon (more than 0, at most %d km)", MaxRadiusKm)
	case in.NearLat < -90 || in.NearLat > 90:
		return q, invalid(prefix+"near_lat", "%g: must be -90 to 90", in.NearLat)
	case in.NearLon < -180 || in.NearLon > 180:
		return q, invalid(prefix+"near_lon", "%g: must be -180 to 180", in.NearLon)
	}
	if in.RadiusKm > 0 {
		q.near, q.lat, q.lon, q.km = true, in.NearLat, in.NearLon, in.RadiusKm
	}
	return q, nil
}

// Empty reports whether the query filters nothing.
func (q Query) Empty() bool { return len(q.place) == 0 && len(q.text) == 0 && !q.near }

// HasIncident reports whether the query filters incidents (place or near).
func (q Query) HasIncident() bool { return len(q.place) > 0 || q.near }

// Key is the query in a canonical form, for binding page tokens: two
// queries with the same key select the same cases (aliases aside, which
// follow what the matcher learns).
func (q Query) Key() string {
	var b strings.Builder
	b.WriteString(q.fold)
	if q.prefix {
		b.WriteByte('*')
	}
	b.WriteByte(0)
	b.WriteString(strings.Join(q.text, " "))
	b.WriteByte(0)
	if q.near {
		for _, v := range []float64{q.lat, q.lon, q.km} {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// MatchPlace reports whether a place name matches the place of the query
// (true when the query has none).
func (q Query) MatchPlace(name string) bool {
	if len(q.place) == 0 {
		return true
	}
	ws, fold := foldWords(name)
	return q.matchWords(ws, fold)
}

func (q Query) matchWords(ws []word, fold string) bool {
	if q.aliases[fold] {
		return true
	}
	n := len(q.place)
	for i := 0; i+n <= len(ws); i++ {
		ok := true
		for j, qw := range q.place {
			pw := ws[i+j]
			if j == n-1 && q.prefix {
				ok = strings.HasPrefix(pw.fold, qw.fold)
			} else {
				ok = qw.like(pw)
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// MatchPoint reports whether an incident's point lies within the radius
// (true when the query has none; false for an incident without one).
func (q Query) MatchPoint(lat, lon float64, has bool) bool {
	if !q.near {
		return true
	}
	return has && matching.DistanceKm(q.lat, q.lon, lat, lon) <= q.km
}

// MatchIncident checks place and near on one incident.
func (q Query) MatchIncident(in *accordv1.Incident) bool {
	return q.MatchPoint(in.GetLat(), in.GetLon(), in.Lat != nil && in.Lon != nil) && q.MatchPlace(in.GetPlace())
}

// MatchTitle reports whether a title holds every text word (true when the
// query has none).
func (q Query) MatchTitle(title string) bool {
	if len(q.text) == 0 {
		return true
	}
	have := map[string]bool{}
	for _, w := range textfold.Words(title) {
		have[textfold.FoldWord(w)] = true
	}
	for _, w := range q.text {
		if !have[w] {
			return false
		}
	}
	return true
}
