package coordination

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// fakeRegistry records the commands it is given.
type fakeRegistry struct {
	applied []*registry.Command
}

func (f *fakeRegistry) ApplyIndex(_ context.Context, cmd *registry.Command) (registry.Outcome, uint64, error) {
	f.applied = append(f.applied, cmd)
	return registry.Outcome{ID: "x"}, uint64(len(f.applied)), nil
}

func (f *fakeRegistry) Read(_ context.Context, _ bool, fn func(registry.View)) (uint64, error) {
	fn(registry.View{})
	return 0, nil
}

func (f *fakeRegistry) GroupStatus(context.Context) (registryraft.Status, error) {
	return registryraft.Status{}, errors.New("not used")
}

func userCtx(name string) context.Context {
	return identity.NewContext(context.Background(), identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: name})
}

func TestExecuteAccess(t *testing.T) {
	reg := &fakeRegistry{}
	s := New(reg, "UA", func(id identity.Identity) bool { return id.Name == "admin" }, nil)
	exec := func(ctx context.Context, typ, payload string) error {
		_, err := s.Execute(ctx, &accordv1.ExecuteRequest{Type: typ, Payload: []byte(payload), RequestId: "r1"})
		return err
	}
	for _, c := range []struct {
		user, typ, payload string
		code               codes.Code
	}{
		{"analyst", "jit.create", `{"name":"n","legal_basis":"b"}`, codes.OK},
		{"analyst", "federation.bootstrap", `{}`, codes.InvalidArgument},
		{"analyst", "noop", `{}`, codes.InvalidArgument},
		{"analyst", "no.such", `{}`, codes.InvalidArgument},
		{"analyst", "key.create", `{"name":"k"}`, codes.PermissionDenied},
		{"analyst", "member.vote_admission", `{"candidate":"LT","approve":true}`, codes.PermissionDenied},
		{"admin", "member.vote_admission", `{"candidate":"LT","approve":true}`, codes.OK},
		{"analyst", "jit.create", ``, codes.InvalidArgument},
	} {
		err := exec(userCtx(c.user), c.typ, c.payload)
		if status.Code(err) != c.code {
			t.Errorf("%s %s: %v, want %s", c.user, c.typ, err, c.code)
		}
	}
	if len(reg.applied) != 2 {
		t.Fatalf("%d commands reached the registry", len(reg.applied))
	}
	if got := reg.applied[0].Actor.User; got != "spiffe://accord.test/member/UA/user/analyst" {
		t.Errorf("actor user %q", got)
	}

	// A key without material gets 32 random bytes on the node.
	if err := exec(userCtx("admin"), "key.create", `{"name":"k"}`); err != nil {
		t.Fatal(err)
	}
	if p, ok := reg.applied[2].Payload.(*registry.CreateKey); !ok || len(p.Material) != 32 {
		t.Fatalf("key payload %#v", reg.applied[2].Payload)
	}
}

func TestNotARegistryServer(t *testing.T) {
	s := New(nil, "UA", func(identity.Identity) bool { return true }, nil)
	_, err := s.Execute(userCtx("admin"), &accordv1.ExecuteRequest{Type: "jit.create", Payload: []byte(`{}`), RequestId: "r"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "registry.server") {
		t.Fatalf("%v", err)
	}
}

func TestQueryValidation(t *testing.T) {
	s := New(&fakeRegistry{}, "UA", func(identity.Identity) bool { return false }, nil)
	for _, c := range []struct {
		req   *accordv1.QueryRequest
		field string
	}{
		{&accordv1.QueryRequest{Kind: "jit"}, "id"},
		{&accordv1.QueryRequest{Kind: "jits", Id: "jit-000001"}, "id"},
		{&accordv1.QueryRequest{Kind: "cases"}, "kind"},
		{&accordv1.QueryRequest{Kind: "strategy", Filter: []byte(`{"colour":1}`)}, "filter"},
	} {
		_, err := s.Query(userCtx("analyst"), c.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%v: %v, want InvalidArgument naming %s", c.req, err, c.field)
		}
	}
}

func (f *fakeRegistry) MatchAnswersBehind() []string { return nil }

func (f *fakeRegistry) MatchAnswersBehindFor(int) []string { return nil }
