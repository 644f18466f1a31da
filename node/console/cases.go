package console

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The case search's bounds. They are variables so that tests can lower
// them.
var (
	// mapPointLimit is the most single points the map gets; above it the
	// incidents are aggregated into grid cells, and the cells are made
	// coarser until there are at most this many.
	mapPointLimit = 2000
	// mapCaseLimit is the most matching cases the map and the timeline
	// read; beyond it they say they stopped early.
	mapCaseLimit = 50000
	// mapPageSize is the page size of that read.
	mapPageSize = 1000
)

const (
	// casesPageSize is the size of a page of the results table.
	casesPageSize = 50
	// baseCellDeg is the finest grid cell of an aggregated map, degrees.
	baseCellDeg = 0.25
)

// routeCases registers the pages of the office's own cases and of the
// federation index.
func (s *Server) routeCases(m *http.ServeMux) {
	m.Handle("GET /cases", s.page(s.handleCases))
	m.Handle("GET /cases/map.json", s.page(s.handleCasesMap))
	m.Handle("GET /cases/{id}", s.page(s.handleCase))
	m.Handle("GET /federation", s.page(s.handleFederation))
	m.Handle("GET /federation/{member}/{case}", s.page(s.handleFederationCase))
}

// invalid is a refusal of the console's own, before the node is asked: a
// bad filter, naming the field (InvalidArgument: HTTP 400).
func invalid(field, format string, args ...any) error {
	return status.Error(codes.InvalidArgument, field+": "+fmt.Sprintf(format, args...))
}

// caseQuery is a search form's fields as given (places, title words,
// dates, codes, coordinates: never a person's name).
type caseQuery struct {
	Place, Text, From, To, Crime, Lat, Lon, Radius string
	// Member is the federation search's member filter.
	Member string
}

// readQuery reads the search fields of a request's query.
func readQuery(r *http.Request) caseQuery {
	v := r.URL.Query()
	g := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return caseQuery{Place: g("place"), Text: g("text"), From: g("from"), To: g("to"), Crime: g("crime_code"),
		Lat: g("lat"), Lon: g("lon"), Radius: g("radius_km"), Member: g("member")}
}

// values are the query's non-empty fields, for links (next page, map).
func (c caseQuery) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"place": c.Place, "text": c.Text, "from": c.From, "to": c.To, "crime_code": c.Crime,
		"lat": c.Lat, "lon": c.Lon, "radius_km": c.Radius, "member": c.Member} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// near parses the distance filter; the node checks the ranges.
func (c caseQuery) near() (lat, lon, km float64, err error) {
	for _, f := range []struct {
		name, val string
		into      *float64
	}{{"lat", c.Lat, &lat}, {"lon", c.Lon, &lon}, {"radius_km", c.Radius, &km}} {
		if f.val == "" {
			continue
		}
		x, err := strconv.ParseFloat(f.val, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, 0, 0, invalid(f.name, "%q: must be a number", f.val)
		}
		*f.into = x
	}
	return lat, lon, km, nil
}

// day parses a YYYY-MM-DD field.
func day(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, invalid(field, "%q: must be a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// filter is the query as the office's CaseFilter: from and to are whole
// days (UTC), to included.
func (c caseQuery) filter() (*accordv1.CaseFilter, error) {
	f := &accordv1.CaseFilter{Place: c.Place, Text: c.Text, CrimeCode: c.Crime}
	var err error
	if f.NearLat, f.NearLon, f.RadiusKm, err = c.near(); err != nil {
		return nil, err
	}
	if c.From != "" {
		t, err := day("from", c.From)
		if err != nil {
			return nil, err
		}
		f.IncidentAfter = timestamppb.New(t)
	}
	if c.To != "" {
		t, err := day("to", c.To)
		if err != nil {
			return nil, err
		}
		f.IncidentBefore = timestamppb.New(t.AddDate(0, 0, 1))
	}
	return f, nil
}

// federation is the query as a ListFederationCasesRequest (the node reads
// the dates).
func (c caseQuery) federation() (*accordv1.ListFederationCasesRequest, error) {
	req := &accordv1.ListFederationCasesRequest{Member: c.Member, Place: c.Place, Text: c.Text, CrimeCode: c.Crime, From: c.From, To: c.To, PageSize: casesPageSize}
	var err error
	if req.NearLat, req.NearLon, req.RadiusKm, err = c.near(); err != nil {
		return nil, err
	}
	return req, nil
}

// firstIncident returns a case's earliest incident (by start) and its
// start; the first one written when none has a readable start.
func firstIncident(incs []*accordv1.Incident) (*accordv1.Incident, time.Time) {
	var (
		best   *accordv1.Incident
		bestAt time.Time
	)
	for _, in := range incs {
		t, err := time.Parse(time.RFC3339, in.GetStart())
		if err != nil {
			continue
		}
		if best == nil || t.Before(bestAt) {
			best, bestAt = in, t
		}
	}
	if best == nil && len(incs) > 0 {
		best = incs[0]
	}
	return best, bestAt
}

// caseRow is a row of a results table.
type caseRow struct {
	Member, ID, Title string
	Status            accordv1.CaseStatus
	Place, Day        string
}

func newCaseRow(member string, id, title string, st accordv1.CaseStatus, incs []*accordv1.Incident) caseRow {
	row := caseRow{Member: member, ID: id, Title: title, Status: st, Place: "–", Day: "–"}
	if in, _ := firstIncident(incs); in != nil {
		row.Place = in.GetPlace()
		if d := in.GetStart(); len(d) >= 10 {
			row.Day = d[:10]
		}
	}
	return row
}

// casePoint is an incident on the map.
type casePoint struct {
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	Case  string  `json:"case"`
	Place string  `json:"place"`
}

// mapCell is a grid cell of an aggregated map: its centre and how many
// matching cases have an incident in it.
type mapCell struct {
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	Cases int     `json:"cases"`
}

// mapData is what /cases/map.json answers.
type mapData struct {
	// Cases is how many matching cases were read; Stopped says the read
	// stopped at CaseLimit while more cases match.
	Cases     int  `json:"cases"`
	Stopped   bool `json:"stopped"`
	CaseLimit int  `json:"case_limit"`
	// Points are single incidents, or (when there are more than the
	// point bound) Cells of CellDeg degrees are drawn instead.
	Points  []casePoint `json:"points"`
	Cells   []mapCell   `json:"cells"`
	CellDeg float64     `json:"cell_deg,omitempty"`
}

// cellKey is a cell of the finest grid.
type cellKey struct{ I, J int32 }

func baseCell(lat, lon float64) cellKey {
	return cellKey{int32(math.Floor((lat + 90) / baseCellDeg)), int32(math.Floor((lon + 180) / baseCellDeg))}
}

// matching is the bounded read of a search's cases, shared by the map and
// the timeline.
type matching struct {
	cases, incidents int
	stopped          bool
	points           []casePoint // while incidents ≤ mapPointLimit
	cells            [][]cellKey // each case's finest cells, distinct
	weeks            map[time.Time]int
}

// searchReadLife is how long a session keeps its last search's read.
const searchReadLife = time.Minute

// searchRead is a session's last search read: its filter, when, and what.
type searchRead struct {
	key string
	at  time.Time
	m   *matching
}

// matchingFor returns the bounded read of the search cq for the request's
// session: the one the session made for the same search within
// searchReadLife (the page and then its map, or its next page), else a
// new one, which the session keeps.
func (s *Server) matchingFor(q *request, cq caseQuery, f *accordv1.CaseFilter) (*matching, error) {
	key := cq.values().Encode()
	sess := q.sess
	sess.matchingMu.Lock()
	defer sess.matchingMu.Unlock()
	if r := sess.matching; r != nil && r.key == key && s.opts.Now().Sub(r.at) < searchReadLife {
		return r.m, nil
	}
	m, err := readMatching(q.ctx, q.conn, f)
	if err != nil {
		return nil, err
	}
	sess.matching = &searchRead{key: key, at: s.opts.Now(), m: m}
	return m, nil
}

// readMatching reads at most mapCaseLimit cases matching f, mapPageSize
// a page.
func readMatching(ctx context.Context, conn grpc.ClientConnInterface, f *accordv1.CaseFilter) (*matching, error) {
	cs := accordv1.NewCaseServiceClient(conn)
	m := &matching{weeks: map[time.Time]int{}}
	req := &accordv1.ListCasesRequest{Filter: f}
	for {
		req.PageSize = int32(min(mapPageSize, mapCaseLimit-m.cases))
		resp, err := cs.ListCases(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, c := range resp.GetCases() {
			m.add(c)
		}
		req.PageToken = resp.GetNextPageToken()
		if req.PageToken == "" {
			return m, nil
		}
		if m.cases >= mapCaseLimit {
			m.stopped = true
			return m, nil
		}
	}
}

// add counts one case: its incidents with coordinates, and the week of
// its first incident.
func (m *matching) add(c *accordv1.Case) {
	m.cases++
	var cells []cellKey
	seen := map[cellKey]bool{}
	for _, in := range c.GetIncidents() {
		if in.Lat == nil || in.Lon == nil {
			continue
		}
		m.incidents++
		if m.incidents <= mapPointLimit {
			m.points = append(m.points, casePoint{Lat: in.GetLat(), Lon: in.GetLon(), Case: c.GetCaseId(), Place: in.GetPlace()})
		} else {
			m.points = nil
		}
		k := baseCell(in.GetLat(), in.GetLon())
		if !seen[k] {
			seen[k] = true
			cells = append(cells, k)
		}
	}
	if len(cells) > 0 {
		m.cells = append(m.cells, cells)
	}
	if _, at := firstIncident(c.GetIncidents()); !at.IsZero() {
		m.weeks[weekOf(at)]++
	}
}

// weekOf is the Monday 00:00 UTC that starts t's week.
func weekOf(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// mapData is the map of the read: single points, or cells made coarser
// (doubled, up to 64°) until at most mapPointLimit (at least one) remain;
// a cell counts each case once.
func (m *matching) mapData() mapData {
	out := mapData{Cases: m.cases, Stopped: m.stopped, CaseLimit: mapCaseLimit, Points: []casePoint{}, Cells: []mapCell{}}
	if m.incidents <= mapPointLimit {
		out.Points = append(out.Points, m.points...)
		return out
	}
	for factor := int32(1); ; factor *= 2 {
		counts := map[cellKey]int{}
		for _, cells := range m.cells {
			seen := map[cellKey]bool{}
			for _, k := range cells {
				c := cellKey{k.I / factor, k.J / factor}
				if !seen[c] {
					seen[c] = true
					counts[c]++
				}
			}
		}
		if len(counts) > max(mapPointLimit, 1) && factor < 256 {
			continue
		}
		deg := baseCellDeg * float64(factor)
		out.CellDeg = deg
		for k, n := range counts {
			out.Cells = append(out.Cells, mapCell{Lat: -90 + (float64(k.I)+0.5)*deg, Lon: -180 + (float64(k.J)+0.5)*deg, Cases: n})
		}
		sort.Slice(out.Cells, func(i, j int) bool {
			a, b := out.Cells[i], out.Cells[j]
			if a.Lat != b.Lat {
				return a.Lat < b.Lat
			}
			return a.Lon < b.Lon
		})
		return out
	}
}

// weekChart is the timeline of matching cases: a bar per week.
type weekChart struct {
	Width, Height int
	Bars          []weekBar
	// Max is the tallest bar's count; From and To the first and last
	// weeks, in words.
	Max      int
	From, To string
	Baseline int
}

type weekBar struct {
	X, Y, W, H int
	Title      string
}

const (
	weekChartHeight = 160
	weekChartLeft   = 40
)

// newWeekChart draws the weeks from the first to the last that have a
// case, empty weeks included.
func newWeekChart(lang string, weeks map[time.Time]int) weekChart {
	if len(weeks) == 0 {
		return weekChart{}
	}
	var first, last time.Time
	top := 0
	for w, n := range weeks {
		if first.IsZero() || w.Before(first) {
			first = w
		}
		if w.After(last) {
			last = w
		}
		top = max(top, n)
	}
	n := int(last.Sub(first).Hours()/(24*7)) + 1
	bw := min(max(chartWidth/n, 2), 40)
	c := weekChart{Width: weekChartLeft + n*bw + 10, Height: weekChartHeight + 10, Max: top, Baseline: weekChartHeight,
		From: date(lang, first), To: date(lang, last)}
	for i := range n {
		w := first.AddDate(0, 0, 7*i)
		k := weeks[w]
		if k == 0 {
			continue
		}
		h := max(weekChartHeight*k/top, 1)
		c.Bars = append(c.Bars, weekBar{X: weekChartLeft + i*bw, Y: weekChartHeight - h, W: max(bw-1, 1), H: h,
			Title: T(lang, "cases.timeline.bar", date(lang, w), k)})
	}
	return c
}

// casesPage is the case search page's data.
type casesPage struct {
	Q        caseQuery
	Rows     []caseRow
	Next     string // the next page's URL
	Count    int
	Stopped  bool
	Limit    int
	MapURL   string
	Tiles    string
	Chart    weekChart
	CellText string // the map's "%d cases" text
}

// handleCases searches the office's own cases.
func (s *Server) handleCases(q *request) error {
	cq := readQuery(q.r)
	cq.Member = ""
	f, err := cq.filter()
	if err != nil {
		return err
	}
	resp, err := accordv1.NewCaseServiceClient(q.conn).ListCases(q.ctx, &accordv1.ListCasesRequest{
		PageSize: casesPageSize, PageToken: q.r.URL.Query().Get("page_token"), Filter: f})
	if err != nil {
		return err
	}
	m, err := s.matchingFor(q, cq, f)
	if err != nil {
		return err
	}
	p := casesPage{Q: cq, Count: m.cases, Stopped: m.stopped, Limit: mapCaseLimit, Tiles: s.opts.TileURL,
		MapURL: "/cases/map.json?" + cq.values().Encode(), Chart: newWeekChart(q.lang, m.weeks), CellText: T(q.lang, "cases.map.cell")}
	for _, c := range resp.GetCases() {
		p.Rows = append(p.Rows, newCaseRow("", c.GetCaseId(), c.GetTitle(), c.GetStatus(), c.GetIncidents()))
	}
	if t := resp.GetNextPageToken(); t != "" {
		v := cq.values()
		v.Set("page_token", t)
		p.Next = "/cases?" + v.Encode()
	}
	s.render(q.w, q.r, "cases", q.lang, q.sess, pageData{Title: T(q.lang, "cases.title"), Nav: "cases", Page: p})
	return nil
}

// handleCasesMap answers the map's points or cells as JSON.
func (s *Server) handleCasesMap(q *request) error {
	cq := readQuery(q.r)
	cq.Member = ""
	f, err := cq.filter()
	if err != nil {
		return err
	}
	m, err := s.matchingFor(q, cq, f)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m.mapData())
	if err != nil {
		return fmt.Errorf("console: map: %w", err)
	}
	q.w.Header().Set("Content-Type", "application/json")
	_, _ = q.w.Write(b)
	return nil
}

// evidenceView is an evidence item of a case with its custody chain and
// whether the chain verifies.
type evidenceView struct {
	Ref    *accordv1.EvidenceRef
	Events []*accordv1.CustodyEvent
	// Indexed says the evidence index holds the item; Verified that its
	// chain verifies, else Break is its first broken link. Error is a
	// failed call's text.
	Indexed, Verified bool
	Break             *accordv1.CustodyBreak
	Error             string
}

// casePageData is a case page's data.
type casePageData struct {
	Case     *accordv1.Case
	Evidence []evidenceView
	Updated  time.Time
}

// handleCase shows one of the office's cases, with its evidence's custody.
func (s *Server) handleCase(q *request) error {
	resp, err := accordv1.NewCaseServiceClient(q.conn).GetCase(q.ctx, &accordv1.GetCaseRequest{CaseId: q.r.PathValue("id")})
	if err != nil {
		return err
	}
	c := resp.GetCase()
	p := casePageData{Case: c, Updated: c.GetUpdateTime().AsTime()}
	ev := accordv1.NewEvidenceServiceClient(q.conn)
	for _, r := range c.GetEvidence() {
		v := evidenceView{Ref: r}
		chain, err := ev.GetCustodyChain(q.ctx, &accordv1.GetCustodyChainRequest{EvidenceId: r.GetId()})
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			v.Error = errorText(err)
		default:
			v.Indexed, v.Events = true, chain.GetEvents()
			ver, err := ev.VerifyCustody(q.ctx, &accordv1.VerifyCustodyRequest{EvidenceId: r.GetId()})
			switch {
			case err != nil:
				v.Error = errorText(err)
			case len(ver.GetBreaks()) > 0:
				v.Break = ver.GetBreaks()[0]
			default:
				v.Verified = true
			}
		}
		p.Evidence = append(p.Evidence, v)
	}
	s.render(q.w, q.r, "case", q.lang, q.sess, pageData{Title: T(q.lang, "case.title", c.GetCaseId()), Nav: "cases", Page: p})
	return nil
}

// federationPage is the federation search page's data.
type federationPage struct {
	Q      caseQuery
	Rows   []caseRow
	Next   string
	Status *accordv1.FederationStatusResponse
	// StatusError is why the status could not be read (the search still
	// shows).
	StatusError string
}

// handleFederation searches what the other members share, with the
// exchange's status.
func (s *Server) handleFederation(q *request) error {
	cq := readQuery(q.r)
	req, err := cq.federation()
	if err != nil {
		return err
	}
	req.PageToken = q.r.URL.Query().Get("page_token")
	idx := accordv1.NewFederationIndexServiceClient(q.conn)
	resp, err := idx.ListFederationCases(q.ctx, req)
	if err != nil {
		return err
	}
	p := federationPage{Q: cq}
	for _, fc := range resp.GetCases() {
		c := fc.GetCase()
		p.Rows = append(p.Rows, newCaseRow(fc.GetMember(), c.GetCaseId(), c.GetTitle(), c.GetStatus(), c.GetIncidents()))
	}
	if t := resp.GetNextPageToken(); t != "" {
		v := cq.values()
		v.Set("page_token", t)
		p.Next = "/federation?" + v.Encode()
	}
	if p.Status, err = idx.FederationStatus(q.ctx, &accordv1.FederationStatusRequest{}); err != nil {
		p.StatusError = errorText(err)
	}
	s.render(q.w, q.r, "federation", q.lang, q.sess, pageData{Title: T(q.lang, "federation.title"), Nav: "federation", Page: p})
	return nil
}

// roleCount is how many persons of a role a shared case encodes.
type roleCount struct {
	Role  accordv1.PersonRole
	Count int
}

// federationCasePage is a shared case's page data: never the persons'
// encodings, only their counts per role.
type federationCasePage struct {
	Member    string
	Case      *accordv1.SharedCase
	Seq       uint64
	Published time.Time
	Updated   time.Time
	Units     []*accordv1.Perpetrator
	Persons   []roleCount
}

// handleFederationCase shows one case another member shares.
func (s *Server) handleFederationCase(q *request) error {
	resp, err := accordv1.NewFederationIndexServiceClient(q.conn).GetFederationCase(q.ctx,
		&accordv1.GetFederationCaseRequest{Member: q.r.PathValue("member"), CaseId: q.r.PathValue("case")})
	if err != nil {
		return err
	}
	fc := resp.GetCase()
	c := fc.GetCase()
	p := federationCasePage{Member: fc.GetMember(), Case: c, Seq: fc.GetSeq(), Published: fc.GetPublishTime().AsTime(), Updated: c.GetUpdateTime().AsTime()}
	for _, x := range c.GetPerpetrators() {
		if x.GetKind() != accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON {
			p.Units = append(p.Units, x)
		}
	}
	counts := map[accordv1.PersonRole]int{}
	for _, x := range c.GetPersons() {
		counts[x.GetRole()]++
	}
	for r := range accordv1.PersonRole_name {
		if n := counts[accordv1.PersonRole(r)]; n > 0 {
			p.Persons = append(p.Persons, roleCount{accordv1.PersonRole(r), n})
		}
	}
	sort.Slice(p.Persons, func(i, j int) bool { return p.Persons[i].Role < p.Persons[j].Role })
	s.render(q.w, q.r, "fedcase", q.lang, q.sess, pageData{Title: T(q.lang, "fedcase.title", fc.GetMember(), c.GetCaseId()), Nav: "federation", Page: p})
	return nil
}
