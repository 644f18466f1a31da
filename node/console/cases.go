package console

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/node/casesearch"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

const (
	// casesPageSize is the size of a page of the results table.
	casesPageSize = 50
	// mapCellPx is the size of a map's grid cell on the screen, pixels
	// (of 256-pixel tiles): the node aggregates into cells of
	// 360° / 2^zoom × mapCellPx / 256.
	mapCellPx = 48
	// maxMapZoom is the map's deepest zoom level.
	maxMapZoom = 18
)

// routeCases registers the pages of the office's own cases and of the
// federation index.
func (s *Server) routeCases(m *http.ServeMux) {
	m.Handle("GET /cases", s.page(s.handleCases))
	m.Handle("GET /cases/map.json", s.page(s.handleCasesMap))
	m.Handle("GET /cases/{id}", s.page(s.handleCase))
	m.Handle("GET /federation", s.page(s.handleFederation))
	m.Handle("GET /federation/map.json", s.page(s.handleFederationMap))
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

// federationAggregate is the query as an AggregateFederationCasesRequest
// (without its grid).
func (c caseQuery) federationAggregate() (*accordv1.AggregateFederationCasesRequest, error) {
	req := &accordv1.AggregateFederationCasesRequest{Member: c.Member, Place: c.Place, Text: c.Text, CrimeCode: c.Crime, From: c.From, To: c.To}
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

// mapCell is a grid cell of the map: the mean of its incident points,
// its bounds and how many matching cases have an incident point in it;
// a single case's link.
type mapCell struct {
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	South float64 `json:"south"`
	West  float64 `json:"west"`
	North float64 `json:"north"`
	East  float64 `json:"east"`
	Cases int64   `json:"cases"`
	Case  string  `json:"case,omitempty"`
	Href  string  `json:"href,omitempty"`
}

// mapData is what the map.json routes answer: every matching case counted
// by the node (Cases), its incident points in cells of CellDeg degrees
// within the view.
type mapData struct {
	Cases   int64     `json:"cases"`
	CellDeg float64   `json:"cell_deg"`
	Cells   []mapCell `json:"cells"`
}

// mapGrid reads a map request's view: zoom (0 to maxMapZoom, default 3)
// makes the cell size; south, west, north and east (all or none) the box,
// clamped to the world (a map that wraps around shows more than 360°);
// a box of more than a quarter of the node's bound of cells
// (casesearch.MaxGridCells) gets larger cells.
func mapGrid(r *http.Request) (cellDeg float64, box *accordv1.GeoBox, err error) {
	v := r.URL.Query()
	zoom := 3
	if z := v.Get("zoom"); z != "" {
		if zoom, err = strconv.Atoi(z); err != nil || zoom < 0 || zoom > maxMapZoom {
			return 0, nil, invalid("zoom", "%q: must be 0 to %d", z, maxMapZoom)
		}
	}
	cellDeg = min(max(360/math.Exp2(float64(zoom))*mapCellPx/256, casesearch.MinCellDeg), casesearch.MaxCellDeg)
	var edges [4]float64
	given := 0
	for i, k := range []string{"south", "west", "north", "east"} {
		if v.Get(k) == "" {
			continue
		}
		given++
		x, err := strconv.ParseFloat(v.Get(k), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, nil, invalid(k, "%q: must be a number", v.Get(k))
		}
		edges[i] = x
	}
	latSpan, lonSpan := 180.0, 360.0
	switch given {
	case 0:
	case 4:
		clamp := func(x, lim float64) float64 { return min(max(x, -lim), lim) }
		box = &accordv1.GeoBox{South: clamp(edges[0], 90), West: clamp(edges[1], 180), North: clamp(edges[2], 90), East: clamp(edges[3], 180)}
		latSpan, lonSpan = box.North-box.South, box.East-box.West
	default:
		return 0, nil, invalid("south", "south, west, north and east go together")
	}
	// A box larger than the view (a crafted request, or the whole world
	// at a deep zoom) gets coarser cells, well within the node's bound.
	cellDeg = max(cellDeg, math.Sqrt(latSpan*lonSpan/(casesearch.MaxGridCells/4)))
	return cellDeg, box, nil
}

// newMapData is a map.json answer from an aggregation's cells; href
// makes a single case's link.
func newMapData(count int64, cellDeg float64, cells []*accordv1.MapCell, href func(*accordv1.MapCell) string) mapData {
	out := mapData{Cases: count, CellDeg: cellDeg, Cells: make([]mapCell, len(cells))}
	for i, c := range cells {
		b := c.GetBounds()
		out.Cells[i] = mapCell{Lat: c.GetLat(), Lon: c.GetLon(), South: b.GetSouth(), West: b.GetWest(), North: b.GetNorth(), East: b.GetEast(), Cases: c.GetCaseCount()}
		if c.GetCaseId() != "" {
			out.Cells[i].Case, out.Cells[i].Href = c.GetCaseId(), href(c)
			if c.GetMember() != "" {
				out.Cells[i].Case = c.GetMember() + "/" + c.GetCaseId()
			}
		}
	}
	return out
}

// writeJSON answers v as JSON.
func writeJSON(q *request, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("console: map: %w", err)
	}
	q.w.Header().Set("Content-Type", "application/json")
	_, _ = q.w.Write(b)
	return nil
}

// weekMap is an aggregation's weeks as the timeline reads them.
func weekMap(weeks []*accordv1.WeekCount) map[time.Time]int {
	out := make(map[time.Time]int, len(weeks))
	for _, w := range weeks {
		if t, err := time.Parse(time.DateOnly, w.GetWeekStart()); err == nil {
			out[t] = int(w.GetCaseCount())
		}
	}
	return out
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
	// Outside counts the cases whose week lies outside the weeks drawn
	// (when they span more than maxChartWeeks).
	Outside int
}

// maxChartWeeks is the longest span of weeks the timeline draws (ten
// years). A member's case with an incident dated in year 1 or 9999 would
// otherwise stretch the chart over centuries and squash every real week
// into a pixel: the chart draws the span of this many weeks that holds
// the most cases, and says how many lie outside it.
const maxChartWeeks = 520

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
	first, last, outside := chartSpan(weeks)
	top := 0
	for w, k := range weeks {
		if !w.Before(first) && !w.After(last) {
			top = max(top, k)
		}
	}
	n := int(last.Sub(first).Hours()/(24*7)) + 1
	bw := min(max(chartWidth/n, 2), 40)
	c := weekChart{Width: weekChartLeft + n*bw + 10, Height: weekChartHeight + 10, Max: top, Baseline: weekChartHeight,
		From: date(lang, first), To: date(lang, last), Outside: outside}
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

// chartSpan returns the first and last weeks the timeline draws: all of
// them when they span at most maxChartWeeks, else the span of that many
// weeks that holds the most cases (the earliest such), and how many cases
// lie outside it.
func chartSpan(weeks map[time.Time]int) (first, last time.Time, outside int) {
	keys := slices.SortedFunc(maps.Keys(weeks), time.Time.Compare)
	first, last = keys[0], keys[len(keys)-1]
	span := func(a, b time.Time) int { return int(b.Sub(a).Hours() / (24 * 7)) }
	if span(first, last) < maxChartWeeks {
		return first, last, 0
	}
	total, best, in := 0, -1, 0
	for _, w := range keys {
		total += weeks[w]
	}
	// A sliding window over the sorted weeks: keys[i..j] within
	// maxChartWeeks of keys[i].
	j := 0
	for i := range keys {
		if i > 0 {
			in -= weeks[keys[i-1]]
		}
		for j < len(keys) && span(keys[i], keys[j]) < maxChartWeeks {
			in += weeks[keys[j]]
			j++
		}
		if in > best {
			best, first, last = in, keys[i], keys[j-1]
		}
	}
	return first, last, total - best
}

// casesPage is the case search page's data.
type casesPage struct {
	Q     caseQuery
	Rows  []caseRow
	Next  string // the next page's URL
	Count int64
	Map   searchMap
}

// searchMap is what a search page's map and timeline need.
type searchMap struct {
	URL, Tiles, CellText string
	Chart                weekChart
	Count                int64
}

// timelineDeg is the cell size of the aggregation a page asks for its
// count and timeline (the map asks for its own view): the coarsest.
const timelineDeg = casesearch.MaxCellDeg

// handleCases searches the office's own cases: a page of the table, and
// the count and timeline of every matching case from the node.
func (s *Server) handleCases(q *request) error {
	cq := readQuery(q.r)
	cq.Member = ""
	f, err := cq.filter()
	if err != nil {
		return err
	}
	cs := accordv1.NewCaseServiceClient(q.conn)
	resp, err := cs.ListCases(q.ctx, &accordv1.ListCasesRequest{
		PageSize: casesPageSize, PageToken: q.r.URL.Query().Get("page_token"), Filter: f})
	if err != nil {
		return err
	}
	agg, err := cs.AggregateCases(q.ctx, &accordv1.AggregateCasesRequest{Filter: f, CellDeg: timelineDeg})
	if err != nil {
		return err
	}
	p := casesPage{Q: cq, Count: agg.GetCaseCount(), Map: searchMap{URL: "/cases/map.json?" + cq.values().Encode(), Tiles: s.opts.TileURL,
		CellText: T(q.lang, "cases.map.cell"), Chart: newWeekChart(q.lang, weekMap(agg.GetWeeks())), Count: agg.GetCaseCount()}}
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

// handleCasesMap answers the cells of the map's view (zoom and box) as
// JSON, aggregated by the node over every matching case.
func (s *Server) handleCasesMap(q *request) error {
	cq := readQuery(q.r)
	cq.Member = ""
	f, err := cq.filter()
	if err != nil {
		return err
	}
	deg, box, err := mapGrid(q.r)
	if err != nil {
		return err
	}
	agg, err := accordv1.NewCaseServiceClient(q.conn).AggregateCases(q.ctx, &accordv1.AggregateCasesRequest{Filter: f, CellDeg: deg, Bounds: box})
	if err != nil {
		return err
	}
	return writeJSON(q, newMapData(agg.GetCaseCount(), deg, agg.GetCells(), func(c *accordv1.MapCell) string {
		return "/cases/" + url.PathEscape(c.GetCaseId())
	}))
}

// handleFederationMap answers the cells of the federation search's map.
func (s *Server) handleFederationMap(q *request) error {
	req, err := readQuery(q.r).federationAggregate()
	if err != nil {
		return err
	}
	if req.CellDeg, req.Bounds, err = mapGrid(q.r); err != nil {
		return err
	}
	agg, err := accordv1.NewFederationIndexServiceClient(q.conn).AggregateFederationCases(q.ctx, req)
	if err != nil {
		return err
	}
	return writeJSON(q, newMapData(agg.GetCaseCount(), req.CellDeg, agg.GetCells(), func(c *accordv1.MapCell) string {
		return "/federation/" + url.PathEscape(c.GetMember()) + "/" + url.PathEscape(c.GetCaseId())
	}))
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
	Count  int64
	Map    searchMap
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
	areq, err := cq.federationAggregate()
	if err != nil {
		return err
	}
	areq.CellDeg = timelineDeg
	agg, err := idx.AggregateFederationCases(q.ctx, areq)
	if err != nil {
		return err
	}
	p := federationPage{Q: cq, Count: agg.GetCaseCount(), Map: searchMap{URL: "/federation/map.json?" + cq.values().Encode(), Tiles: s.opts.TileURL,
		CellText: T(q.lang, "cases.map.cell"), Chart: newWeekChart(q.lang, weekMap(agg.GetWeeks())), Count: agg.GetCaseCount()}}
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
