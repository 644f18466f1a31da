package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/accordfed/accord/node/jitcontent"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// routeJits registers the pages of joint investigation teams and of the
// audit log.
func (s *Server) routeJits(m *http.ServeMux) {
	m.Handle("GET /jits", s.page(s.handleJits))
	m.Handle("POST /jits", s.page(s.handleJitCreate))
	m.Handle("GET /jits/{id}", s.page(s.handleJit))
	m.Handle("POST /jits/{id}/accept", s.page(s.handleJitAnswer))
	m.Handle("POST /jits/{id}/decline", s.page(s.handleJitAnswer))
	m.Handle("POST /jits/{id}/invite", s.page(s.handleJitInvite))
	m.Handle("POST /jits/{id}/cases", s.page(s.handleJitLink))
	m.Handle("POST /jits/{id}/entries", s.page(s.handleJitEntry))
	m.Handle("POST /jits/{id}/proposals/{n}/consent", s.page(s.handleJitConsent))
	m.Handle("POST /jits/{id}/leads/{lead}/consent", s.page(s.handleLeadConsent))
	m.Handle("GET /audit", s.page(s.handleAudit))
}

func init() {
	funcs["props"] = func(lang, csrf, id, kind string, rows []proposalRow) proposalsView {
		return proposalsView{Lang: lang, CSRF: csrf, ID: id, Kind: kind, Rows: rows}
	}
}

// proposalsView is a table of proposals with the page's language, CSRF
// token and team, for the "proposals" template; Kind is the path of their
// consent forms ("proposals" of the team, or "leads").
type proposalsView struct {
	Lang, CSRF, ID, Kind string
	Rows                 []proposalRow
}

// requestID is a new request id for a form, made when the page is drawn so
// that a form sent twice changes the registry once.
func requestID() string { return "console." + randomToken()[:24] }

// jitRow is a team of the list.
type jitRow struct {
	ID, Name, LegalBasis, State, Lead, Mine, Created string
	Invited                                          bool
	Members                                          []string
}

// jitsPage is the list of teams and the form to create one.
type jitsPage struct {
	Rows      []jitRow
	Total     int32
	Next      string
	RequestID string
	// The creation form's values, kept after a refusal.
	Name, LegalBasis, AgreementRef, Invite string
}

// opened is a team's text as the node gave it, or, where the node could
// not open it (jitcontent's markers), the console's words for that.
func opened(lang, s string) string {
	switch s {
	case jitcontent.Waiting:
		return T(lang, "jit.sealed.waiting")
	case jitcontent.Unreadable:
		return T(lang, "jit.sealed.unreadable")
	}
	return s
}

// handleJits lists the teams the office is in or invited to.
func (s *Server) handleJits(q *request) error {
	resp, err := q.coord.ListJits(q.ctx, &accordv1.ListJitsRequest{PageSize: 100, PageToken: q.r.URL.Query().Get("page")})
	if err != nil {
		return err
	}
	p := jitsPage{Total: resp.GetTotalSize(), Next: resp.GetNextPageToken(), RequestID: requestID()}
	for _, j := range resp.GetJits() {
		row := jitRow{ID: shortName(j.GetName()), Name: opened(q.lang, j.GetDisplayName()), LegalBasis: opened(q.lang, j.GetLegalBasis()),
			State: enumWord(q.lang, j.GetState(), "JIT_STATE_"), Lead: j.GetLead()}
		if t := j.GetCreate().GetTime(); t != nil {
			row.Created = date(q.lang, t.AsTime())
		}
		for _, ms := range j.GetMemberships() {
			if ms.GetState() == accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED {
				row.Members = append(row.Members, ms.GetMember())
			}
			if ms.GetMember() == q.member {
				row.Mine = enumWord(q.lang, ms.GetState(), "JIT_MEMBERSHIP_STATE_")
				row.Invited = ms.GetState() == accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED
			}
		}
		p.Rows = append(p.Rows, row)
	}
	d := pageData{Title: T(q.lang, "jits.title"), Nav: "jits", Page: p}
	if q.r.URL.Query().Get("done") == "declined" {
		d.Notice = T(q.lang, "jit.done.declined")
	}
	s.render(q.w, q.r, "jits", q.lang, q.sess, d)
	return nil
}

// memberCodes splits a list of member codes written with commas or spaces
// ("PL, DE") and writes them in upper case.
func memberCodes(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		out = append(out, strings.ToUpper(f))
	}
	return out
}

// handleJitCreate creates a team from the list page's form.
func (s *Server) handleJitCreate(q *request) error {
	f := q.r.PostForm
	resp, err := q.coord.CreateJit(q.ctx, &accordv1.CreateJitRequest{
		Jit: &accordv1.Jit{DisplayName: strings.TrimSpace(f.Get("display_name")), LegalBasis: strings.TrimSpace(f.Get("legal_basis")),
			AgreementRef: strings.TrimSpace(f.Get("agreement_ref"))},
		InviteMembers: memberCodes(f.Get("invite")), RequestId: f.Get("request_id")})
	if err != nil {
		return err
	}
	s.toJit(q, shortName(resp.GetJit().GetName()), "created")
	return nil
}

// toJit redirects to a team's workspace with the notice of a change.
func (s *Server) toJit(q *request, id, done string) {
	http.Redirect(q.w, q.r, "/jits/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

// jitName is the resource name of the team of the request's path.
func jitName(q *request) string { return "jits/" + q.r.PathValue("id") }

// memberRow is a team's membership as the workspace shows it.
type memberRow struct {
	Member, State, InvitedBy, Since, User string
	Lead, Self                            bool
}

// linkedCaseRow is a case linked to a team.
type linkedCaseRow struct {
	Case, Linked, By string
}

// entryRow is a strategy entry of the team's board.
type entryRow struct {
	ID, Title, Text, Owner, Created, Status, Targets string
	Deleted, Own                                     bool
}

// entryGroup is the board's entries of one kind.
type entryGroup struct {
	Kind    string
	Entries []entryRow
}

// consentRow is one member's answer to a proposal.
type consentRow struct {
	Member, Answer, When string
}

// proposalRow is a team proposal or a lead proposal of the team's cases.
type proposalRow struct {
	// ID is the proposal's number in the team, or the lead proposal's id.
	ID, What, State, Proposed, By string
	Cases                         []string
	Consents                      []consentRow
	// Ask is whether this office's answer is awaited; RequestID is its
	// consent form's.
	Ask       bool
	RequestID string
}

// historyRow is one change of the team.
type historyRow struct {
	index                    uint64
	When, Member, User, What string
}

// jitPage is a team's workspace.
type jitPage struct {
	ID, Name, LegalBasis, AgreementRef, State, Lead, Policy string
	Encrypted                                               bool
	Members                                                 []memberRow
	// Invited is whether this office's invitation waits for its answer;
	// Accepted whether it is an accepted member (sees cases and entries).
	Invited, Accepted bool
	Cases             []linkedCaseRow
	Board             []entryGroup
	Entries           int
	Proposals         []proposalRow
	Leads             []proposalRow
	History           []historyRow
	// Forms' own request ids (one per form: a page's forms are independent).
	InviteID, LinkID, EntryID, AcceptID, DeclineID string
}

// changeWho is who made a change: the member and the user's account name
// (empty for a change the node made on its own).
func changeWho(c *accordv1.RegistryChange) (member, user string) {
	if c == nil {
		return "", ""
	}
	if c.GetUser() != "" {
		user = shortName(c.GetUser())
	}
	return c.GetMember(), user
}

// handleJit shows a team's workspace.
func (s *Server) handleJit(q *request) error {
	id := q.r.PathValue("id")
	resp, err := q.coord.GetJit(q.ctx, &accordv1.GetJitRequest{Name: "jits/" + id})
	if err != nil {
		return err
	}
	j := resp.GetJit()
	l := q.lang
	when := func(c *accordv1.RegistryChange) string {
		if c.GetTime() == nil {
			return "–"
		}
		return dateTime(l, c.GetTime().AsTime())
	}
	p := jitPage{ID: id, Name: opened(l, j.GetDisplayName()), LegalBasis: opened(l, j.GetLegalBasis()), AgreementRef: opened(l, j.GetAgreementRef()),
		State: enumWord(l, j.GetState(), "JIT_STATE_"), Lead: j.GetLead(), Policy: enumWord(l, j.GetPolicy(), "JIT_POLICY_"),
		Encrypted: j.GetKeyEpoch() > 0, InviteID: requestID(), LinkID: requestID(), EntryID: requestID(),
		AcceptID: requestID(), DeclineID: requestID()}
	add := func(c *accordv1.RegistryChange, what string) {
		if c == nil {
			return
		}
		m, u := changeWho(c)
		p.History = append(p.History, historyRow{index: c.GetIndex(), When: when(c), Member: m, User: u, What: what})
	}
	add(j.GetCreate(), T(l, "jit.history.created", opened(l, j.GetDisplayName())))
	for _, ms := range j.GetMemberships() {
		_, u := changeWho(ms.GetSince())
		row := memberRow{Member: ms.GetMember(), State: enumWord(l, ms.GetState(), "JIT_MEMBERSHIP_STATE_"), InvitedBy: ms.GetInvitedBy(),
			Since: when(ms.GetSince()), User: u, Lead: ms.GetMember() == j.GetLead(), Self: ms.GetMember() == q.member}
		if row.Self {
			p.Invited = ms.GetState() == accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED
			p.Accepted = ms.GetState() == accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED
		}
		p.Members = append(p.Members, row)
		if ms.GetSince().GetIndex() != j.GetCreate().GetIndex() || ms.GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED {
			add(ms.GetSince(), T(l, "jit.history.membership", ms.GetMember(), enumWord(l, ms.GetState(), "JIT_MEMBERSHIP_STATE_")))
		}
	}
	linked := map[string]bool{}
	for _, c := range j.GetCases() {
		_, u := changeWho(c.GetLinked())
		p.Cases = append(p.Cases, linkedCaseRow{Case: caseText(c.GetCaseRef()), Linked: when(c.GetLinked()), By: u})
		linked[caseText(c.GetCaseRef())] = true
		add(c.GetLinked(), T(l, "jit.history.linked", caseText(c.GetCaseRef())))
	}
	for _, pr := range j.GetProposals() {
		row := proposalRow{ID: shortName(pr.GetName()), What: proposalText(l, pr), State: enumWord(l, pr.GetState(), "JIT_PROPOSAL_STATE_"),
			Proposed: when(pr.GetCreate()), RequestID: requestID()}
		row.By, _ = changeWho(pr.GetCreate())
		row.Consents, row.Ask = consents(l, q.member, pr.GetConsents())
		row.Ask = row.Ask && pr.GetState() == accordv1.JitProposalState_JIT_PROPOSAL_STATE_OPEN
		p.Proposals = append(p.Proposals, row)
		add(pr.GetCreate(), T(l, "jit.history.proposed", row.What))
		if pr.GetUpdate().GetIndex() != pr.GetCreate().GetIndex() {
			add(pr.GetUpdate(), T(l, "jit.history.proposal", row.What, row.State))
		}
	}
	if p.Accepted {
		if err := s.board(q, &p); err != nil {
			return err
		}
		if err := s.leads(q, &p, linked); err != nil {
			return err
		}
	}
	slices.SortStableFunc(p.History, func(a, b historyRow) int { return cmp.Compare(b.index, a.index) })
	d := pageData{Title: T(l, "jit.title", opened(l, j.GetDisplayName())), Nav: "jits", Page: p}
	switch q.r.URL.Query().Get("done") {
	case "created":
		d.Notice = T(q.lang, "jit.done.created")
	case "accepted":
		d.Notice = T(q.lang, "jit.done.accepted")
	case "invited":
		d.Notice = T(q.lang, "jit.done.invited")
	case "linked":
		d.Notice = T(q.lang, "jit.done.linked")
	case "entry":
		d.Notice = T(q.lang, "jit.done.entry")
	case "consented":
		d.Notice = T(q.lang, "jit.done.consented")
	}
	s.render(q.w, q.r, "jit", q.lang, q.sess, d)
	return nil
}

// proposalText says what a team proposal would change.
func proposalText(lang string, pr *accordv1.JitProposal) string {
	switch pr.GetKind() {
	case accordv1.JitProposalKind_JIT_PROPOSAL_KIND_INVITE:
		return T(lang, "jit.proposal.invite", pr.GetMember())
	case accordv1.JitProposalKind_JIT_PROPOSAL_KIND_SET_LEAD:
		return T(lang, "jit.proposal.lead", pr.GetMember())
	case accordv1.JitProposalKind_JIT_PROPOSAL_KIND_CLOSE:
		return T(lang, "jit.proposal.close")
	}
	return "–"
}

// consents returns the members' answers and whether this office's is
// awaited.
func consents(lang, self string, answers []*accordv1.MemberAnswer) ([]consentRow, bool) {
	var out []consentRow
	ask := false
	for _, a := range answers {
		row := consentRow{Member: a.GetMember(), Answer: enumWord(lang, a.GetAnswer(), "ANSWER_")}
		if t := a.GetChange().GetTime(); t != nil {
			row.When = dateTime(lang, t.AsTime())
		}
		if a.GetMember() == self && a.GetAnswer() == accordv1.Answer_ANSWER_PENDING {
			ask = true
		}
		out = append(out, row)
	}
	return out, ask
}

// boardKinds are the strategy board's columns, in order.
var boardKinds = []accordv1.StrategyEntryKind{accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_PRIORITY,
	accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_TARGET, accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_THEME}

// board fills the strategy board: the team's entries (withdrawn ones too)
// grouped by kind.
func (s *Server) board(q *request, p *jitPage) error {
	groups := map[accordv1.StrategyEntryKind][]entryRow{}
	token := ""
	for range 10 { // at most 10 pages of 1000
		resp, err := q.coord.ListStrategyEntries(q.ctx, &accordv1.ListStrategyEntriesRequest{Jit: "jits/" + p.ID, ShowDeleted: true, PageSize: 1000, PageToken: token})
		if err != nil {
			return err
		}
		for _, e := range resp.GetStrategyEntries() {
			row := entryRow{ID: shortName(e.GetName()), Title: opened(q.lang, e.GetTitle()), Text: opened(q.lang, e.GetText()), Owner: e.GetOwner(), Deleted: e.GetDeleted(),
				Own: e.GetOwner() == q.member}
			if t := e.GetCreate().GetTime(); t != nil {
				row.Created = dateTime(q.lang, t.AsTime())
			}
			if e.GetDeleted() {
				row.Status = T(q.lang, "jit.entry.withdrawn", e.GetDeleteReason())
			} else {
				row.Status = T(q.lang, "jit.entry.version", e.GetVersion())
			}
			var targets []string
			for _, tg := range e.GetTargets() {
				if tg.GetType() == accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_UNIT {
					targets = append(targets, tg.GetRef())
				} else {
					targets = append(targets, T(q.lang, "jit.entry.person_target"))
				}
			}
			row.Targets = strings.Join(targets, "; ")
			groups[e.GetKind()] = append(groups[e.GetKind()], row)
			p.Entries++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for _, k := range boardKinds {
		p.Board = append(p.Board, entryGroup{Kind: enumWord(q.lang, k, "STRATEGY_ENTRY_KIND_"), Entries: groups[k]})
	}
	return nil
}

// leads fills the lead proposals of the team's linked cases: those with at
// least one of its cases.
func (s *Server) leads(q *request, p *jitPage, linked map[string]bool) error {
	if len(linked) == 0 {
		return nil
	}
	resp, err := q.coord.ListLeadProposals(q.ctx, &accordv1.ListLeadProposalsRequest{PageSize: 1000})
	if err != nil {
		return err
	}
	for _, lp := range resp.GetLeadProposals() {
		row := proposalRow{ID: shortName(lp.GetName()), What: T(q.lang, "jit.lead.what", lp.GetLead()),
			State: enumWord(q.lang, lp.GetState(), "LEAD_PROPOSAL_STATE_"), RequestID: requestID()}
		ours := false
		for _, c := range lp.GetCases() {
			row.Cases = append(row.Cases, caseText(c))
			ours = ours || linked[caseText(c)]
		}
		if !ours {
			continue
		}
		if t := lp.GetCreate().GetTime(); t != nil {
			row.Proposed = dateTime(q.lang, t.AsTime())
		}
		row.By, _ = changeWho(lp.GetCreate())
		row.Consents, row.Ask = consents(q.lang, q.member, lp.GetConsents())
		row.Ask = row.Ask && lp.GetState() == accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_PROPOSED
		p.Leads = append(p.Leads, row)
	}
	return nil
}

// handleJitAnswer accepts or declines this office's invitation.
func (s *Server) handleJitAnswer(q *request) error {
	id := q.r.PathValue("id")
	name := jitName(q) + "/memberships/" + q.member
	if strings.HasSuffix(q.r.URL.Path, "/decline") {
		if _, err := q.coord.DeclineJitInvitation(q.ctx, &accordv1.DeclineJitInvitationRequest{Name: name, RequestId: q.r.PostFormValue("request_id")}); err != nil {
			return err
		}
		// A member that declined no longer sees the team.
		http.Redirect(q.w, q.r, "/jits?done=declined", http.StatusSeeOther)
		return nil
	}
	if _, err := q.coord.AcceptJitInvitation(q.ctx, &accordv1.AcceptJitInvitationRequest{Name: name, RequestId: q.r.PostFormValue("request_id")}); err != nil {
		return err
	}
	s.toJit(q, id, "accepted")
	return nil
}

// handleJitInvite proposes inviting a member.
func (s *Server) handleJitInvite(q *request) error {
	_, err := q.coord.InviteToJit(q.ctx, &accordv1.InviteToJitRequest{Jit: jitName(q),
		Member: strings.ToUpper(strings.TrimSpace(q.r.PostFormValue("member"))), RequestId: q.r.PostFormValue("request_id")})
	if err != nil {
		return err
	}
	s.toJit(q, q.r.PathValue("id"), "invited")
	return nil
}

// handleJitLink links one of this office's cases to the team.
func (s *Server) handleJitLink(q *request) error {
	_, err := q.coord.LinkJitCase(q.ctx, &accordv1.LinkJitCaseRequest{Jit: jitName(q),
		CaseRef:   &accordv1.RegistryCaseRef{Member: q.member, CaseId: strings.TrimSpace(q.r.PostFormValue("case_id"))},
		RequestId: q.r.PostFormValue("request_id")})
	if err != nil {
		return err
	}
	s.toJit(q, q.r.PathValue("id"), "linked")
	return nil
}

// entryKinds are the kinds the entry form offers, by form value.
var entryKinds = map[string]accordv1.StrategyEntryKind{
	"priority": accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_PRIORITY,
	"target":   accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_TARGET,
	"theme":    accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_THEME,
}

// handleJitEntry adds a strategy entry scoped to the team. A kind the form
// does not know is sent unset, and the node refuses it naming the field.
func (s *Server) handleJitEntry(q *request) error {
	f := q.r.PostForm
	e := &accordv1.StrategyEntry{Jit: jitName(q), Kind: entryKinds[f.Get("kind")], Title: strings.TrimSpace(f.Get("title")),
		Text: strings.TrimSpace(f.Get("text"))}
	if unit := strings.TrimSpace(f.Get("target_unit")); unit != "" {
		e.Targets = []*accordv1.StrategyTarget{{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_UNIT, Ref: unit}}
	}
	if _, err := q.coord.CreateStrategyEntry(q.ctx, &accordv1.CreateStrategyEntryRequest{StrategyEntry: e, RequestId: f.Get("request_id")}); err != nil {
		return err
	}
	s.toJit(q, q.r.PathValue("id"), "entry")
	return nil
}

// formAnswer reads a consent form's answer: yes, else no.
func formAnswer(q *request) accordv1.Answer {
	if q.r.PostFormValue("answer") == "yes" {
		return accordv1.Answer_ANSWER_YES
	}
	return accordv1.Answer_ANSWER_NO
}

// handleJitConsent answers a team proposal for this office.
func (s *Server) handleJitConsent(q *request) error {
	_, err := q.coord.ConsentJitProposal(q.ctx, &accordv1.ConsentJitProposalRequest{Name: jitName(q) + "/proposals/" + q.r.PathValue("n"),
		Answer: formAnswer(q), RequestId: q.r.PostFormValue("request_id")})
	if err != nil {
		return err
	}
	s.toJit(q, q.r.PathValue("id"), "consented")
	return nil
}

// handleLeadConsent answers a lead proposal of the team's cases for this
// office.
func (s *Server) handleLeadConsent(q *request) error {
	_, err := q.coord.ConsentLeadProposal(q.ctx, &accordv1.ConsentLeadProposalRequest{Name: "leadProposals/" + q.r.PathValue("lead"),
		Answer: formAnswer(q), RequestId: q.r.PostFormValue("request_id")})
	if err != nil {
		return err
	}
	s.toJit(q, q.r.PathValue("id"), "consented")
	return nil
}
