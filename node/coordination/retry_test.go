package coordination

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// racingNode is a member's node on an fsmLog whose next command is
// preceded by another writer's (before: the other update lands between
// this node's read and its write), and whose answer to a given request id
// is lost after the command applied, the next read failing too (lose: the
// node loses its registry connection).
type racingNode struct {
	*fsmNode
	mu        sync.Mutex
	before    func()
	lose      string
	failReads int
}

func (r *racingNode) Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error) {
	r.mu.Lock()
	fail := r.failReads > 0
	if fail {
		r.failReads--
	}
	r.mu.Unlock()
	if fail {
		return 0, errors.New("the registry is unreachable")
	}
	return r.fsmNode.Read(ctx, linearizable, fn)
}

func (r *racingNode) ApplyIndex(ctx context.Context, cmd *registry.Command) (registry.Outcome, uint64, error) {
	r.mu.Lock()
	f, lose := r.before, r.lose == cmd.RequestID
	r.before = nil
	if lose {
		r.lose, r.failReads = "", 1
	}
	r.mu.Unlock()
	if f != nil {
		f()
	}
	out, index, err := r.fsmNode.ApplyIndex(ctx, cmd)
	if err == nil && lose {
		return registry.Outcome{}, 0, errors.New("the answer was lost")
	}
	return out, index, err
}

func (r *racingNode) race(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before = f
}

func (r *racingNode) loseAnswer(requestID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lose = requestID
}

func (l *fsmLog) lastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.index
}

func newSigningKey(t *testing.T, id string) *accordv1.SigningKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := records.PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &accordv1.SigningKey{Id: id, PublicKeyPem: pemKey}
}

// Two admins update different fields of their member's record at the same
// time: the update made from the record as it was before the other's is
// retried by the node on the record as re-read, and both changes stay
// (finding 4). A client's retry of its request gets the first answer and
// applies nothing; an etag read before the other update is Aborted.
func TestUpdateMemberConcurrentWritersKeepBoth(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	racing := &racingNode{fsmNode: nodes["UA"]}
	isAdmin := func(id identity.Identity) bool { return id.Name == "admin" }
	a := NewMembership(New(racing, "UA", isAdmin, nil))
	b := membership(nodes["UA"])
	ctx := as("UA", "admin")

	read, err := a.GetMember(ctx, &accordv1.GetMemberRequest{Name: "members/UA"})
	if err != nil || read.GetMember().GetEtag() == "" {
		t.Fatalf("read: %v %v", read, err)
	}
	key := newSigningKey(t, "records-b")
	racing.race(func() {
		if _, err := b.UpdateMember(ctx, &accordv1.UpdateMemberRequest{RequestId: "b-1",
			Member:     &accordv1.Member{Name: "members/UA", SigningKeys: []*accordv1.SigningKey{key}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"signing_keys"}}}); err != nil {
			t.Errorf("the other admin's update: %v", err)
		}
	})
	req := &accordv1.UpdateMemberRequest{RequestId: "a-1",
		Member:     &accordv1.Member{Name: "members/UA", DisplayName: "Office of the Prosecutor General"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}
	up, err := a.UpdateMember(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	m := up.GetMember()
	if m.GetDisplayName() != "Office of the Prosecutor General" || len(m.GetSigningKeys()) != 1 || m.GetSigningKeys()[0].GetId() != "records-b" {
		t.Fatalf("lost update: %v", m)
	}

	// The client retries a-1 (it did not hear the answer): the same
	// answer, nothing applied again.
	at := l.lastIndex()
	again, err := a.UpdateMember(ctx, req)
	if err != nil || again.GetMember().GetDisplayName() != m.GetDisplayName() || l.lastIndex() != at {
		t.Fatalf("retry: %v %v (log %d -> %d)", again, err, at, l.lastIndex())
	}

	// With the etag read before both updates: Aborted, naming the etag.
	stale := &accordv1.UpdateMemberRequest{RequestId: "a-2",
		Member:     &accordv1.Member{Name: "members/UA", DisplayName: "x", Etag: read.GetMember().GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}
	_, err = a.UpdateMember(ctx, stale)
	wantCode(t, "stale etag", err, codes.Aborted, "member.etag")
	// With the current one: applied.
	stale.RequestId, stale.Member.Etag = "a-3", again.GetMember().GetEtag()
	if _, err := a.UpdateMember(ctx, stale); err != nil {
		t.Fatalf("current etag: %v", err)
	}
}

// The answer to a retried attempt is lost after it applied, and the node
// cannot read the registry either: the client's retry of its request id
// finds the attempt in the exactly-once table and applies nothing again,
// not even its first, stale attempt.
func TestUpdateMemberClientRetryAfterLostAnswer(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	racing := &racingNode{fsmNode: nodes["UA"]}
	a := NewMembership(New(racing, "UA", func(id identity.Identity) bool { return id.Name == "admin" }, nil))
	b := membership(nodes["UA"])
	ctx := as("UA", "admin")
	racing.race(func() {
		if _, err := b.UpdateMember(ctx, &accordv1.UpdateMemberRequest{RequestId: "b-1",
			Member:     &accordv1.Member{Name: "members/UA", DisplayName: "B's name"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}); err != nil {
			t.Errorf("the other admin's update: %v", err)
		}
	})
	racing.loseAnswer(attemptID("a-1", 1))
	req := &accordv1.UpdateMemberRequest{RequestId: "a-1",
		Member:     &accordv1.Member{Name: "members/UA", SigningKeys: []*accordv1.SigningKey{newSigningKey(t, "records-a")}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"signing_keys"}}}
	if _, err := a.UpdateMember(ctx, req); err == nil {
		t.Fatalf("first call: %v, want an error", err)
	}
	at := l.lastIndex()
	up, err := a.UpdateMember(ctx, req)
	if err != nil || l.lastIndex() != at {
		t.Fatalf("retry: %v (log %d -> %d)", err, at, l.lastIndex())
	}
	if m := up.GetMember(); m.GetDisplayName() != "B's name" || len(m.GetSigningKeys()) != 1 {
		t.Fatalf("after the retry: %v", m)
	}
}

// attemptID keeps the client's id for the first attempt and stays within
// the registry's 128 characters.
func TestAttemptID(t *testing.T) {
	if attemptID("r-1", 0) != "r-1" || attemptID("r-1", 2) != "r-1#2" {
		t.Errorf("attempt ids %q %q", attemptID("r-1", 0), attemptID("r-1", 2))
	}
	long := strings.Repeat("x", 128)
	if id := attemptID(long, 7); len(id) > 128 || id == attemptID(long[:127]+"y", 7) {
		t.Errorf("long request id: %q", id)
	}
}
