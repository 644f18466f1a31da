package coordination

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/pagetoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// What the typed methods share: calling convention, request ids, resource
// names, pages, and the registry's field names turned into the API's.

// The page sizes of every List method (AIP-158).
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// WithPageTokenKey makes the service sign its page tokens with key (the
// node store's page-token key, so that tokens outlive a restart); without
// it, a random key made by New is used.
func (s *Service) WithPageTokenKey(key []byte) { s.tokens = pagetoken.New(key) }

// randomTokens returns a page-token codec with a fresh random key.
func randomTokens() *pagetoken.Codec {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read does not fail (Go 1.24)
	return pagetoken.New(key)
}

// call runs one typed method for the calling user: the user is checked
// first, and the handler's error is mapped to a gRPC status once.
func call[Req, Resp any](ctx context.Context, s *Service, req Req, h func(context.Context, identity.Identity, Req) (Resp, error)) (Resp, error) {
	var zero Resp
	id, err := s.user(ctx)
	if err != nil {
		return zero, err
	}
	resp, err := h(ctx, id, req)
	if err != nil {
		return zero, grpcserver.ToStatus(err)
	}
	return resp, nil
}

// invalidf returns an InvalidArgument error; the message starts with the
// field.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{grpcserver.ErrInvalidArgument}, args...)...)
}

// write sends one command for the user: payload p under requestID, which
// the client must give (AIP-155). fields renames the payload's fields in
// the registry's refusals to the request's (payload field -> request
// field).
func (s *Service) write(ctx context.Context, id identity.Identity, requestID string, p registry.Payload, fields map[string]string) (registry.Outcome, uint64, error) {
	if requestID == "" {
		return registry.Outcome{}, 0, invalidf("request_id: required: the client's id for the request, the same on every retry (1 to 128 letters, digits, '.', '_', ':', '-')")
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return registry.Outcome{}, 0, err
	}
	out, index, err := s.execute(ctx, id, p.CommandType(), requestID, payload)
	if err != nil {
		return out, index, renameFields(err, fields)
	}
	return out, index, nil
}

// registrySentinels are the sentinels renameFields keeps.
var registrySentinels = []error{
	registry.ErrInvalidArgument, registry.ErrNotFound, registry.ErrAlreadyExists,
	registry.ErrPermissionDenied, registry.ErrFailedPrecondition,
}

// renameFields rewrites the field a registry refusal names ("<sentinel>:
// <field>: why") to the request's name for it, keeping the sentinel.
func renameFields(err error, fields map[string]string) error {
	for _, sentinel := range registrySentinels {
		if !errors.Is(err, sentinel) {
			continue
		}
		rest, ok := strings.CutPrefix(err.Error(), sentinel.Error()+": ")
		if !ok {
			return err
		}
		for from, to := range fields {
			if after, ok := strings.CutPrefix(rest, from); ok && after != "" && strings.ContainsRune(":.[", rune(after[0])) {
				return fmt.Errorf("%w: %s%s", sentinel, to, after)
			}
		}
		return err
	}
	return err
}

// read runs fn on a view of the registry, linearizable unless stale.
func (s *Service) read(ctx context.Context, stale bool, fn func(v registry.View) error) error {
	var ferr error
	if _, err := s.reg.Read(ctx, !stale, func(v registry.View) { ferr = fn(v) }); err != nil {
		return err
	}
	return ferr
}

// ---- resource names ----

// idRE is the form of a registry record id in a resource name.
var idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// parseName returns the id of a resource name collection/{id}.
func parseName(field, name, collection, example string) (string, error) {
	if name == "" {
		return "", invalidf("%s: required (%s/{id}, e.g. %s)", field, collection, example)
	}
	id, ok := strings.CutPrefix(name, collection+"/")
	if !ok || !idRE.MatchString(id) {
		return "", invalidf("%s: %q is not a resource name %s/{id} (e.g. %s)", field, name, collection, example)
	}
	return id, nil
}

// parseSubName returns the ids of a resource name
// collection/{id}/sub/{sub}.
func parseSubName(field, name, collection, sub, example string) (string, string, error) {
	if name == "" {
		return "", "", invalidf("%s: required (%s/{id}/%s/{id}, e.g. %s)", field, collection, sub, example)
	}
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != collection || parts[2] != sub || !idRE.MatchString(parts[1]) || !idRE.MatchString(parts[3]) {
		return "", "", invalidf("%s: %q is not a resource name %s/{id}/%s/{id} (e.g. %s)", field, name, collection, sub, example)
	}
	return parts[1], parts[3], nil
}

// checkMember checks an optional member code of a filter.
func checkMember(field, code string) error {
	if code == "" {
		return nil
	}
	if identity.ValidateMember(code) != nil {
		return invalidf("%s: %q is not a member code: 2-16 upper-case letters or digits starting with a letter (e.g. UA, ICC)", field, code)
	}
	return nil
}

// checkEnum checks that an enum value is one the API defines.
func checkEnum[E ~int32](field string, v E, known map[E]string) error {
	if _, ok := known[v]; !ok && v != 0 {
		return invalidf("%s: %d is not a value of the enum", field, int32(v))
	}
	return nil
}

// yesNo reads a required answer.
func yesNo(field string, a accordv1.Answer) (bool, error) {
	switch a {
	case accordv1.Answer_ANSWER_YES:
		return true, nil
	case accordv1.Answer_ANSWER_NO:
		return false, nil
	}
	return false, invalidf("%s: must be ANSWER_YES or ANSWER_NO (got %s)", field, a)
}

// ---- pages ----

// page is one List request's place in its list.
type page struct {
	size  int
	after string // the id of the last record of the previous page
	bind  pagetoken.Binding
}

// pageOf checks a List request's page size and token; filters are the
// request's normalised filters, to which the token is bound.
func (s *Service) pageOf(id identity.Identity, method string, size int32, token string, filters ...string) (page, error) {
	switch {
	case size < 0:
		return page{}, invalidf("page_size: must not be negative (got %d)", size)
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	bind := pagetoken.Binding{Caller: id.String(), Query: method + "\x00" + strings.Join(filters, "\x00")}
	after, err := s.tokens.Decode(bind, token)
	if err != nil {
		return page{}, invalidf("page_token: %w; start again without a token", err)
	}
	return page{size: int(size), after: after, bind: bind}, nil
}

// paginate returns the page of items (ordered by key, idCompare) after
// p.after, and the token of the next page ("" on the last).
func paginate[T any](s *Service, p page, items []T, key func(T) string) ([]T, string) {
	start := 0
	if p.after != "" {
		start = sort.Search(len(items), func(i int) bool { return idCompare(key(items[i]), p.after) > 0 })
	}
	end := min(start+p.size, len(items))
	next := ""
	if end < len(items) {
		next = s.tokens.Encode(p.bind, key(items[end-1]))
	}
	return items[start:end], next
}

// idCompare orders registry ids as the registry does: numerically when
// they share a prefix ("jit-000010" after "jit-000009"), by comparing
// lengths first.
func idCompare(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// ---- shared converters ----

func toChange(c registry.Change) *accordv1.RegistryChange {
	if c.Index == 0 && c.Time.IsZero() {
		return nil
	}
	out := &accordv1.RegistryChange{Index: c.Index, RequestId: c.RequestID, Member: c.Member, Node: c.Node, User: c.User}
	if !c.Time.IsZero() {
		out.Time = timestamppb.New(c.Time)
	}
	return out
}

func toCaseRef(c registry.CaseRef) *accordv1.RegistryCaseRef {
	return &accordv1.RegistryCaseRef{Member: c.Member, CaseId: c.CaseID}
}

func toCaseRefs(cs []registry.CaseRef) []*accordv1.RegistryCaseRef {
	out := make([]*accordv1.RegistryCaseRef, len(cs))
	for i, c := range cs {
		out[i] = toCaseRef(c)
	}
	return out
}

func fromCaseRef(c *accordv1.RegistryCaseRef) registry.CaseRef {
	return registry.CaseRef{Member: c.GetMember(), CaseID: c.GetCaseId()}
}

func fromCaseRefs(cs []*accordv1.RegistryCaseRef) []registry.CaseRef {
	if len(cs) == 0 {
		return nil
	}
	out := make([]registry.CaseRef, len(cs))
	for i, c := range cs {
		out[i] = fromCaseRef(c)
	}
	return out
}

var answers = map[registry.Answer]accordv1.Answer{
	registry.AnswerPending: accordv1.Answer_ANSWER_PENDING,
	registry.AnswerYes:     accordv1.Answer_ANSWER_YES,
	registry.AnswerNo:      accordv1.Answer_ANSWER_NO,
}

func toAnswers(cs []registry.Consent) []*accordv1.MemberAnswer {
	out := make([]*accordv1.MemberAnswer, len(cs))
	for i, c := range cs {
		a := &accordv1.MemberAnswer{Member: c.Member, Answer: answers[c.Answer], Reason: c.Reason}
		if c.Change != nil {
			a.Change = toChange(*c.Change)
		}
		out[i] = a
	}
	return out
}

// awaiting reports whether member's answer among cs is still pending.
func awaiting(cs []registry.Consent, member string) bool {
	for _, c := range cs {
		if c.Member == member {
			return c.Answer == registry.AnswerPending
		}
	}
	return false
}

// invert returns the reverse of a registry-to-API enum table.
func invert[K comparable, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// enumNames returns an API enum table for checkEnum.
func enumNames[K comparable, E ~int32](m map[K]E) map[E]string {
	out := make(map[E]string, len(m))
	for k, v := range m {
		out[v] = fmt.Sprint(k)
	}
	return out
}

// aborted turns the registry's refusal of a stale expected version into
// Aborted naming field (AIP-154: the etag no longer matches).
func aborted(field string, err error) error {
	if errors.Is(err, registry.ErrFailedPrecondition) && strings.Contains(err.Error(), "expected_version:") {
		_, why, _ := strings.Cut(err.Error(), "expected_version: ")
		return errAborted(field + ": " + why + " (read it again)")
	}
	return err
}

// etagOf is a strategy entry's etag at a version.
func etagOf(version int) string { return strconv.Quote(strconv.Itoa(version)) }

// parseEtag reads an etag etagOf made (quoted or not); "" is 0, no check.
func parseEtag(field, etag string) (int, error) {
	if etag == "" {
		return 0, nil
	}
	s := strings.TrimPrefix(etag, "W/")
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, invalidf("%s: %q is not an etag of this API (the etag field of the resource as read, e.g. \"\\\"3\\\"\")", field, etag)
	}
	return n, nil
}

// errAborted is the refusal of a change based on a stale read (AIP-154).
// The registry has no sentinel for it (its stale expected version is a
// failed precondition), so it is a status already.
func errAborted(msg string) error { return status.Error(codes.Aborted, msg) }
