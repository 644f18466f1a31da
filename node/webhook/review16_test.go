package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestReviewDeliverDoesNotFollowRedirects: the configured URL must be
// https (http only to loopback), but the client follows redirects, so an
// endpoint that answers 307/308 makes the node re-POST the signed body
// (case ids, match ids, the HMAC header, replayable for five minutes) to
// wherever Location says, http to any host included, and counts the
// event delivered when that other host answers 200.
func TestReviewDeliverDoesNotFollowRedirects(t *testing.T) {
	elsewhere := newOffice(t)
	first := httptest.NewServer(http.RedirectHandler(elsewhere.srv.URL+"/collect", http.StatusTemporaryRedirect))
	t.Cleanup(first.Close)
	s := New(Options{URL: first.URL, Secret: secret, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.deliver(ctx, event())
	if bodies, sigs := elsewhere.received(); len(bodies) > 0 {
		t.Fatalf("the signed event was re-posted to the redirect's target (%d times, signature %q)", len(bodies), sigs[0])
	}
	if st := s.Stats(); st.Delivered != 0 {
		t.Fatalf("a redirect counted as delivered: %+v", st)
	}
}
