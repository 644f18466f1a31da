package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/accordfed/accord/node/matchwatch"
)

// ErrSignature is returned by Verify for a missing, malformed, wrong or
// too old signature.
var ErrSignature = errors.New("webhook: bad signature")

// Header is the signature's header.
const Header = "Accord-Signature"

// MaxAge is how old a signature Verify accepts.
const MaxAge = 5 * time.Minute

// Position keeps the registry index delivered up to (*store.Store).
type Position interface {
	WebhookPosition() (uint64, error)
	SetWebhookPosition(uint64) error
}

// Options configure a Sender.
type Options struct {
	URL    string
	Secret []byte
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration
	// BackoffMin and BackoffMax bound the waits between attempts
	// (defaults 1s and 5m).
	BackoffMin, BackoffMax time.Duration
	// Client sends the requests (default: one with Timeout).
	Client *http.Client
	Logger *slog.Logger
}

// Stats are the sender's counts.
type Stats struct {
	Delivered, FailedAttempts, Refused uint64
	// Position is the registry index delivered up to.
	Position uint64
}

// Sender delivers one member's match events to the office URL.
type Sender struct {
	opts                                 Options
	pos                                  Position
	delivered, failed, refused, position atomic.Uint64
}

// New returns a sender.
func New(opts Options, pos Position) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = time.Second
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = max(opts.BackoffMin, 5*time.Minute)
	}
	if opts.Client == nil {
		// No redirects: the body and its signature go to the configured
		// URL only (https, or http to loopback), never to a Location the
		// endpoint names; a 3xx is retried like a failure, and logged.
		opts.Client = &http.Client{Timeout: opts.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{opts: opts, pos: pos}
}

// Stats returns the counts.
func (s *Sender) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), FailedAttempts: s.failed.Load(), Refused: s.refused.Load(), Position: s.position.Load()}
}

// Run delivers member's events from the stored position (on the first
// start, from now) until ctx ends.
func (s *Sender) Run(ctx context.Context, src matchwatch.Source, member string) error {
	start, err := s.pos.WebhookPosition()
	if err != nil {
		return fmt.Errorf("webhook: reading the delivered position: %w", err)
	}
	if start == 0 {
		if start, err = matchwatch.Now(ctx, src); err != nil {
			return err
		}
		if err := s.pos.SetWebhookPosition(start); err != nil {
			return fmt.Errorf("webhook: writing the delivered position: %w", err)
		}
	}
	s.position.Store(start)
	return matchwatch.Follow(ctx, src, member, start, func(evs []matchwatch.Event) error {
		for _, e := range evs {
			if err := s.deliver(ctx, e); err != nil {
				return err
			}
			if err := s.pos.SetWebhookPosition(e.Index); err != nil {
				return fmt.Errorf("webhook: writing the delivered position: %w", err)
			}
			s.position.Store(e.Index)
		}
		return nil
	})
}

// Payload is the body of one POST.
type Payload struct {
	Kind  string    `json:"kind"`
	Index uint64    `json:"index"`
	Time  time.Time `json:"time"`
	Match string    `json:"match"`
	State string    `json:"state"`
	Score float64   `json:"score"`
	Cases []CaseRef `json:"cases"`
	// Answer is set for kind "answered".
	Answer *Answer `json:"answer,omitempty"`
}

// CaseRef is a case by member and case id.
type CaseRef struct {
	Member string `json:"member"`
	CaseID string `json:"case_id"`
}

// Answer is a member's answer.
type Answer struct {
	Member string `json:"member"`
	Answer string `json:"answer"`
}

// PayloadOf builds the body of an event: no reasons, no user names.
func PayloadOf(e matchwatch.Event) Payload {
	d := e.Decision
	p := Payload{Kind: string(e.Kind), Index: e.Index, Time: d.Updated.Time.UTC(), Match: d.ID, State: string(d.Status), Score: d.Score}
	for _, c := range d.Cases {
		p.Cases = append(p.Cases, CaseRef{Member: c.Member, CaseID: c.CaseID})
	}
	if e.Answer != nil {
		p.Answer = &Answer{Member: e.Answer.Member, Answer: string(e.Answer.Answer)}
	}
	return p
}

// Sign returns the signature header's value for body at time t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts + "."))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks a signature header's value over body, as the office does:
// the HMAC in constant time, and t no older than MaxAge at now (nor more
// than MaxAge ahead).
func Verify(secret, body []byte, header string, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: want t=UNIX,v1=HEX", ErrSignature)
	}
	if age := now.Sub(time.Unix(unix, 0)); age > MaxAge || age < -MaxAge {
		return fmt.Errorf("%w: signed %s ago (at most %s)", ErrSignature, age.Round(time.Second), MaxAge)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return fmt.Errorf("%w: the HMAC does not match", ErrSignature)
	}
	return nil
}

// deliver POSTs one event until delivered or refused, or ctx ends.
func (s *Sender) deliver(ctx context.Context, e matchwatch.Event) error {
	body, err := json.Marshal(PayloadOf(e))
	if err != nil {
		return err
	}
	wait := s.opts.BackoffMin
	for {
		code, err := s.post(ctx, body)
		switch {
		case err == nil && code < 300:
			s.delivered.Add(1)
			return nil
		case err == nil && code >= 400 && code < 500 && code != http.StatusTooManyRequests:
			s.refused.Add(1)
			s.opts.Logger.Warn("the office webhook refused a match event; skipped", "match", e.Decision.ID, "index", e.Index, "status", code)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.failed.Add(1)
		s.opts.Logger.Warn("delivering a match event to the office webhook failed; retrying", "match", e.Decision.ID, "index", e.Index, "status", code, "err", err, "in", wait)
		// Jitter: a random wait between half the bound and the bound.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, s.opts.BackoffMax)
	}
}

func (s *Sender) post(ctx context.Context, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(Header, Sign(s.opts.Secret, body, time.Now()))
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
