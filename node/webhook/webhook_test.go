package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/matchwatch"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test")

// office is an office's endpoint on loopback: it answers with the given
// statuses in turn (then 200) and keeps what it received.
type office struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	sigs     []string
	srv      *httptest.Server
}

func newOffice(t *testing.T, statuses ...int) *office {
	o := &office{statuses: statuses}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		defer o.mu.Unlock()
		o.bodies = append(o.bodies, b)
		o.sigs = append(o.sigs, r.Header.Get(Header))
		code := http.StatusOK
		if len(o.statuses) > 0 {
			code, o.statuses = o.statuses[0], o.statuses[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *office) received() ([][]byte, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][]byte(nil), o.bodies...), append([]string(nil), o.sigs...)
}

// event is an answered decision with reasons and a user, as the registry
// holds it.
func event() matchwatch.Event {
	ch := registry.Change{Index: 42, Time: time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC), Member: "PL", User: "spiffe://accord.test/member/PL/user/jan.kowalski"}
	d := registry.MatchDecision{ID: "match-000042", Score: 0.97, Status: registry.MatchProposed,
		Cases:     []registry.CaseRef{{Member: "PL", CaseID: "PL-2023-17"}, {Member: "UA", CaseID: "UA-2022-000101"}},
		Reasons:   []string{"same place: Charków", "victim Olena Kovalenko in both"},
		Decisions: []registry.Consent{{Member: "PL", Answer: registry.AnswerYes, Change: &ch}, {Member: "UA", Answer: registry.AnswerPending}},
		Created:   registry.Change{Index: 40, User: "spiffe://accord.test/member/PL/user/jan.kowalski"}, Updated: ch}
	return matchwatch.Classify(d)
}

func sender(o *office) *Sender {
	return New(Options{URL: o.srv.URL, Secret: secret, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, nil)
}

func TestDeliverSignedWithoutNamesOrFreeText(t *testing.T) {
	o := newOffice(t)
	s := sender(o)
	if err := s.deliver(context.Background(), event()); err != nil {
		t.Fatal(err)
	}
	bodies, sigs := o.received()
	if len(bodies) != 1 {
		t.Fatalf("%d posts, want 1", len(bodies))
	}
	if err := Verify(secret, bodies[0], sigs[0], time.Now()); err != nil {
		t.Fatalf("the office cannot verify the signature %q: %v", sigs[0], err)
	}
	body := string(bodies[0])
	for _, no := range []string{"Olena", "Kovalenko", "kowalski", "Charków", "same place", "reasons", "user"} {
		if strings.Contains(body, no) {
			t.Errorf("the body holds %q: %s", no, body)
		}
	}
	for _, want := range []string{`"kind":"answered"`, `"match":"match-000042"`, `"index":42`, `"state":"proposed"`, `"score":0.97`,
		`{"member":"PL","case_id":"PL-2023-17"}`, `"answer":{"member":"PL","answer":"yes"}`, `"time":"2026-12-07T20:00:00Z"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the body lacks %s: %s", want, body)
		}
	}
	// Tampered, other secret, replayed: refused.
	if err := Verify(secret, append([]byte(" "), bodies[0]...), sigs[0], time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if err := Verify([]byte("another secret of thirty-two bytes!!"), bodies[0], sigs[0], time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("other secret: %v", err)
	}
	if err := Verify(secret, bodies[0], sigs[0], time.Now().Add(6*time.Minute)); !errors.Is(err, ErrSignature) {
		t.Errorf("replayed after 6 minutes: %v", err)
	}
	if err := Verify(secret, bodies[0], "v1=00", time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("no time: %v", err)
	}
}

func TestDeliverRetriesOn5xxAnd429(t *testing.T) {
	o := newOffice(t, 500, 429, 503)
	s := sender(o)
	if err := s.deliver(context.Background(), event()); err != nil {
		t.Fatal(err)
	}
	bodies, sigs := o.received()
	if len(bodies) != 4 {
		t.Fatalf("%d posts, want 4 (three failures, then delivered)", len(bodies))
	}
	for i := range bodies {
		if err := Verify(secret, bodies[i], sigs[i], time.Now()); err != nil {
			t.Errorf("attempt %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.Delivered != 1 || st.FailedAttempts != 3 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDeliverDoesNotRetryOn4xx(t *testing.T) {
	o := newOffice(t, 400)
	s := sender(o)
	if err := s.deliver(context.Background(), event()); err != nil {
		t.Fatal(err)
	}
	if bodies, _ := o.received(); len(bodies) != 1 {
		t.Fatalf("%d posts, want 1 (a 400 is not retried)", len(bodies))
	}
	if st := s.Stats(); st.Delivered != 0 || st.Refused != 1 || st.FailedAttempts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A network error is retried until ctx ends; the event is not counted
// delivered.
func TestDeliverRetriesNetworkErrorsUntilStopped(t *testing.T) {
	o := newOffice(t)
	url := o.srv.URL
	o.srv.Close() // nobody listens
	s := New(Options{URL: url, Secret: secret, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.deliver(ctx, event()) }()
	deadline := time.After(10 * time.Second)
	for s.Stats().FailedAttempts < 3 {
		select {
		case <-deadline:
			t.Fatal("no retries")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("deliver = %v", err)
	}
	if s.Stats().Delivered != 0 {
		t.Fatal("counted delivered")
	}
}
