package console

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accordfed/accord/federation/records"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// queuePageSize is how many decisions a queue page shows.
const queuePageSize = 50

// queueRow is one waiting decision of the queue.
type queueRow struct {
	ID      string
	Score   float64
	Age     string
	Others  []string
	Reasons string
}

// clusterRow is one incident cluster waiting for the office.
type clusterRow struct {
	ID       string
	Cases    []string
	Members  string
	Waiting  int32
	Flagged  bool
	MinScore float64
	MaxScore float64
	FirstID  string
}

type queuePage struct {
	Rows     []queueRow
	Total    int32
	Next     string
	Clusters []clusterRow
	// The filters as given.
	Member   string
	MinScore string
}

func caseText(c *accordv1.RegistryCaseRef) string { return c.GetMember() + "/" + c.GetCaseId() }

// otherCases are the cases of a decision that are not the office's own.
func otherCases(self string, cases []*accordv1.RegistryCaseRef) []string {
	var out []string
	for _, c := range cases {
		if c.GetMember() != self {
			out = append(out, caseText(c))
		}
	}
	return out
}

func shortName(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

// handleQueue is the review queue: decisions and clusters waiting for the
// office's answer, best first.
func (s *Server) handleQueue(q *request) error {
	f := q.r.URL.Query()
	req := &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, OrderBy: "score desc", PageSize: queuePageSize,
		PageToken: f.Get("page"), Member: f.Get("member")}
	p := queuePage{Member: f.Get("member"), MinScore: f.Get("min_score")}
	if p.MinScore != "" {
		x, err := strconv.ParseFloat(p.MinScore, 64)
		if err != nil {
			x = math.NaN() // the node names the field and the reason
		}
		req.MinScore = x
	}
	resp, err := q.coord.ListMatchDecisions(q.ctx, req)
	if err != nil {
		return err
	}
	p.Total, p.Next = resp.GetTotalSize(), resp.GetNextPageToken()
	for _, m := range resp.GetMatchDecisions() {
		row := queueRow{ID: shortName(m.GetName()), Score: m.GetScore(), Reasons: strings.Join(vocabList(q.lang, m.GetReasons()), "; ")}
		if t := m.GetCreate().GetTime(); t != nil {
			row.Age = ago(q.lang, s.since(t.AsTime()))
		}
		row.Others = otherCases(q.member, m.GetCases())
		p.Rows = append(p.Rows, row)
	}
	if f.Get("page") == "" {
		cs, err := q.clusters.ListClusters(q.ctx, &accordv1.ListClustersRequest{AwaitingAnswer: true, MinCases: 3, PageSize: 20, Member: f.Get("member")})
		if err == nil { // a node without clusters (no exchange) has none to show
			for _, c := range cs.GetClusters() {
				row := clusterRow{ID: shortName(c.GetName()), Members: strings.Join(c.GetMembers(), ", "), Waiting: c.GetAwaitingAnswer(),
					Flagged: c.GetGuard().GetFlagged(), MinScore: c.GetMinScore(), MaxScore: c.GetMaxScore()}
				for _, cr := range c.GetCases() {
					row.Cases = append(row.Cases, caseText(cr))
				}
				if len(c.GetLinks()) > 0 {
					row.FirstID = shortName(c.GetLinks()[0].GetMatchDecision())
				}
				p.Clusters = append(p.Clusters, row)
			}
		}
	}
	s.render(q.w, q.r, "queue", q.lang, q.sess, pageData{Title: T(q.lang, "queue.title"), Nav: "queue", Page: p})
	return nil
}

// matchPage is a decision with its cases side by side.
type matchPage struct {
	ID        string
	State     string
	Score     float64
	Proposed  string
	Cases     []*accordv1.ComparedCase
	Pairs     []pairView
	Answers   []answerView
	History   []answerView
	Mine      string // this office's current answer ("" none)
	Waiting   bool
	RequestID string
	Done      string
	// Map: the incidents' points as JSON, and the tile server.
	MapJSON string
	Tiles   string
	// Timeline of the incidents' windows.
	Timeline timeline
	// Waterfall of the explanation the decision was proposed with.
	Waterfall waterfall
}

type answerView struct {
	Member, Answer, Reason, When, User string
}

// pairView is a pair of cases aligned for the page.
type pairView struct {
	A, B      *accordv1.ComparedCase
	P         *accordv1.CasePairComparison
	Incidents []incidentRow
	Waterfall waterfall
}

type incidentRow struct {
	A, B  *accordv1.Incident
	Pair  *accordv1.IncidentPair
	Apart string
}

// handleMatch shows a decision: its cases side by side, their incidents
// on a map and a timeline, the score's waterfall, the answers and the
// forms to answer.
func (s *Server) handleMatch(q *request) error {
	id := q.r.PathValue("id")
	resp, err := q.coord.CompareMatchDecision(q.ctx, &accordv1.CompareMatchDecisionRequest{Name: "matchDecisions/" + id})
	if err != nil {
		return err
	}
	m := resp.GetMatchDecision()
	p := matchPage{ID: id, State: enumWord(q.lang, m.GetState(), "MATCH_DECISION_STATE_"), Score: m.GetScore(), Cases: resp.GetCases(),
		RequestID: "console." + randomToken()[:24], Done: q.r.URL.Query().Get("done"), Tiles: s.opts.TileURL}
	if t := m.GetCreate().GetTime(); t != nil {
		p.Proposed = dateTime(q.lang, t.AsTime())
	}
	for _, a := range m.GetAnswers() {
		v := answerView{Member: a.GetMember(), Answer: enumWord(q.lang, a.GetAnswer(), "ANSWER_"), Reason: a.GetReason()}
		if a.GetMember() == q.member {
			p.Mine = a.GetAnswer().String()
			p.Waiting = a.GetAnswer() == accordv1.Answer_ANSWER_PENDING
		}
		p.Answers = append(p.Answers, v)
	}
	for _, a := range m.GetHistory() {
		v := answerView{Member: a.GetMember(), Answer: enumWord(q.lang, a.GetAnswer(), "ANSWER_"), Reason: a.GetReason(), User: shortName(a.GetChange().GetUser())}
		if t := a.GetChange().GetTime(); t != nil {
			v.When = dateTime(q.lang, t.AsTime())
		}
		p.History = append(p.History, v)
	}
	var points []mapPoint
	var windows []window
	for i, c := range resp.GetCases() {
		for _, in := range c.GetShared().GetIncidents() {
			if in.Lat != nil && in.Lon != nil {
				points = append(points, mapPoint{Case: caseText(c.GetCaseRef()), Side: i, Lat: in.GetLat(), Lon: in.GetLon(), Place: in.GetPlace()})
			}
			if st, en, ok := records.IncidentWindow(in); ok {
				windows = append(windows, window{Row: i, Label: caseText(c.GetCaseRef()), Start: st, End: en})
			}
		}
	}
	b, _ := json.Marshal(points)
	p.MapJSON = string(b)
	p.Timeline = newTimeline(q.lang, windows, len(resp.GetCases()))
	p.Waterfall = newWaterfall(q.lang, m.GetExplanation())
	for _, pr := range resp.GetPairs() {
		a, b := resp.GetCases()[pr.GetFirst()], resp.GetCases()[pr.GetSecond()]
		v := pairView{A: a, B: b, P: pr, Waterfall: newWaterfall(q.lang, pr.GetExplanation())}
		for _, ip := range pr.GetIncidents() {
			row := incidentRow{A: incidentAt(a.GetShared(), ip.GetFirst()), B: incidentAt(b.GetShared(), ip.GetSecond()), Pair: ip}
			if ip.GetFirst() >= 0 && ip.GetSecond() >= 0 {
				row.Apart = apartText(q.lang, ip)
			}
			v.Incidents = append(v.Incidents, row)
		}
		p.Pairs = append(p.Pairs, v)
	}
	s.render(q.w, q.r, "match", q.lang, q.sess, pageData{Title: T(q.lang, "match.title", id), Nav: "queue", Page: p})
	return nil
}

type mapPoint struct {
	Case  string  `json:"case"`
	Side  int     `json:"side"`
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	Place string  `json:"place"`
}

func incidentAt(c *accordv1.SharedCase, i int32) *accordv1.Incident {
	if i < 0 || int(i) >= len(c.GetIncidents()) {
		return nil
	}
	return c.GetIncidents()[i]
}

// apartText says how far apart two paired incidents are.
func apartText(lang string, ip *accordv1.IncidentPair) string {
	var parts []string
	if ip.GetBest() {
		parts = append(parts, T(lang, "match.best_pair"))
	}
	if ip.GetSamePlace() {
		parts = append(parts, T(lang, "match.same_place"))
	}
	if ip.GetHasDistance() {
		parts = append(parts, T(lang, "match.km_apart", decimal(lang, ip.GetDistanceKm(), 1)))
	}
	d := time.Duration(ip.GetStartDifferenceSeconds()) * time.Second
	if d < 0 {
		d = -d
	}
	parts = append(parts, T(lang, "match.starts_apart", d.Round(time.Minute).String()))
	return strings.Join(parts, " · ")
}

// handleAnswer records the office's answer to a decision.
func (s *Server) handleAnswer(q *request) error {
	id := q.r.PathValue("id")
	answer := accordv1.Answer_ANSWER_NO
	if q.r.PostFormValue("answer") == "yes" {
		answer = accordv1.Answer_ANSWER_YES
	}
	_, err := q.coord.DecideMatch(q.ctx, &accordv1.DecideMatchRequest{Name: "matchDecisions/" + id, Answer: answer,
		Reason: strings.TrimSpace(q.r.PostFormValue("reason")), RequestId: q.r.PostFormValue("request_id")})
	if err != nil {
		return err
	}
	done := "no"
	if answer == accordv1.Answer_ANSWER_YES {
		done = "yes"
	}
	http.Redirect(q.w, q.r, "/matches/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

// rulePage is the form of an answer by rule and, after a run, its result.
type rulePage struct {
	Answer, Reason, MinScore, MaxScore, Member, Evidence string
	RequestID                                            string
	Ran, DryRun, More                                    bool
	Selection                                            string
	Rows                                                 []ruleRow
	Answered, Failed                                     int32
}

type ruleRow struct {
	ID         string
	Score      float64
	LocalScore float64
	Others     []string
	Evidence   int32
	Answered   bool
	Error      string
}

// handleRule shows the rule form (GET), runs its dry run (POST
// action=dryrun) or answers what the dry run showed (POST action=apply).
func (s *Server) handleRule(q *request) error {
	form := q.r.URL.Query()
	if q.r.Method == http.MethodPost {
		form = q.r.PostForm
	}
	p := rulePage{Answer: form.Get("answer"), Reason: form.Get("reason"), MinScore: form.Get("min_score"), MaxScore: form.Get("max_score"),
		Member: form.Get("member"), Evidence: form.Get("shared_evidence"), RequestID: "console." + randomToken()[:24]}
	if p.Answer == "" {
		p.Answer = "yes"
	}
	if q.r.Method == http.MethodPost {
		req := &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{Member: p.Member,
			MinScore: formFloat(p.MinScore), MaxScore: formFloat(p.MaxScore), MinSharedEvidence: formInt(p.Evidence)},
			Answer: accordv1.Answer_ANSWER_NO, Reason: strings.TrimSpace(p.Reason)}
		if p.Answer == "yes" {
			req.Answer = accordv1.Answer_ANSWER_YES
		}
		if form.Get("action") == "apply" {
			req.RequestId, req.ExpectedSelection = form.Get("request_id"), form.Get("selection")
		} else {
			req.ValidateOnly = true
		}
		resp, err := q.coord.DecideMatches(q.ctx, req)
		if err != nil {
			return err
		}
		p.Ran, p.DryRun, p.More, p.Selection = true, resp.GetValidateOnly(), resp.GetMore(), resp.GetSelection()
		p.Answered, p.Failed = resp.GetAnswered(), resp.GetFailed()
		for _, a := range resp.GetAnswers() {
			row := ruleRow{ID: shortName(a.GetName()), Score: a.GetScore(), LocalScore: a.GetLocalScore(), Evidence: a.GetSharedEvidence(), Answered: a.GetAnswered(), Error: a.GetError()}
			row.Others = otherCases(q.member, a.GetCases())
			p.Rows = append(p.Rows, row)
		}
	}
	s.render(q.w, q.r, "rule", q.lang, q.sess, pageData{Title: T(q.lang, "rule.title"), Nav: "rule", Page: p})
	return nil
}

// formFloat reads a number field; empty is 0, and anything unreadable NaN
// (the node refuses it, naming the field).
func formFloat(s string) float64 {
	if strings.TrimSpace(s) == "" {
		return 0
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return math.NaN()
	}
	return x
}

// formInt reads a count field; empty is 0, and anything unreadable -1 (the
// node refuses it, naming the field).
func formInt(s string) int32 {
	if strings.TrimSpace(s) == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return -1
	}
	return int32(n)
}
