package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// watchBackoff bounds the waits between reconnections of matches watch.
var watchBackoff = struct{ first, max time.Duration }{500 * time.Millisecond, 30 * time.Second}

func newMatchesWatchCmd(g *globalOptions) *cobra.Command {
	var (
		since    uint64
		awaiting bool
	)
	cmd := &cobra.Command{
		Use:   "watch [--since INDEX] [--awaiting]",
		Short: "Print the office's match events as they happen: new matches, answers, state changes",
		Long: `watch follows the match decisions this office is involved in (WatchMatches)
and prints one line per event: time, kind (created, answered, state_changed),
decision, score, the other members' cases, and the state; with --output json,
one JSON object per line (the API's WatchMatchesResponse).

Each event carries its registry index. --since INDEX starts after an index
seen before (0, the default: only what changes from now on). A decision
changed several times between two reads is printed once, as it stands.
When the node restarts or the stream is cut, watch reconnects with back-off
and resumes after the last index it printed. Ctrl-C ends it.`,
		Example: `  accordctl --config ua.yaml matches watch
  accordctl --config ua.yaml matches watch --awaiting -o json
  accordctl --config ua.yaml matches watch --since 48213`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := openCoord(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			w := cmd.OutOrStdout()
			self := c.id.Member
			wait := watchBackoff.first
			for {
				got, err := watchOnce(ctx, c, &accordv1.WatchMatchesRequest{Since: since, AwaitingAnswer: awaiting}, func(r *accordv1.WatchMatchesResponse) error {
					since = r.GetIndex()
					if r.GetHeartbeat() {
						return nil
					}
					if g.JSON() {
						_, err := fmt.Fprintf(w, "%s\n", protoValue(r, false))
						return err
					}
					printMatchEvent(w, self, r)
					return nil
				})
				if ctx.Err() != nil {
					return nil // Ctrl-C: a clean end
				}
				switch status.Code(err) {
				case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition, codes.Unimplemented:
					return c.coordError("matches watch", "", err)
				}
				if got {
					wait = watchBackoff.first
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "matches watch: stream ended (%s); reconnecting in %s from index %d\n", orDash(errString(err)), wait.Round(time.Millisecond), since)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait/2 + rand.N(wait/2+1)):
				}
				wait = min(2*wait, watchBackoff.max)
			}
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "start after this registry index (the index of the last event seen; 0: from now)")
	cmd.Flags().BoolVar(&awaiting, "awaiting", false, "only decisions still waiting for this office's answer")
	return cmd
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	if st, ok := status.FromError(err); ok {
		return st.Code().String() + ": " + st.Message()
	}
	return err.Error()
}

// watchOnce reads one WatchMatches stream until it ends; got says whether
// it handed anything (heartbeats included).
func watchOnce(ctx context.Context, c *coordClient, req *accordv1.WatchMatchesRequest, handle func(*accordv1.WatchMatchesResponse) error) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.coord.WatchMatches(ctx, req)
	if err != nil {
		return false, err
	}
	for {
		r, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("closed by the node")
			}
			return got, err
		}
		got = true
		if err := handle(r); err != nil {
			return got, err
		}
	}
}

// printMatchEvent prints one event on a line: time, kind, decision,
// score, the other members' cases, state (and who answered what).
func printMatchEvent(w io.Writer, self string, r *accordv1.WatchMatchesResponse) {
	m := r.GetMatchDecision()
	at := m.GetUpdate().GetTime().AsTime().Local().Format(time.RFC3339)
	var others []string
	for _, c := range m.GetCases() {
		if c.GetMember() != self {
			others = append(others, apiCase(c))
		}
	}
	kind := word(r.GetKind(), "MATCH_EVENT_KIND_")
	if a := r.GetAnswer(); a != nil {
		kind += " " + a.GetMember() + " " + word(a.GetAnswer(), "ANSWER_")
	}
	fmt.Fprintf(w, "%s  %-20s  %s  %.2f  %s  %s  (index %d)\n", at, kind, shortID(m.GetName()), m.GetScore(),
		orDash(strings.Join(others, ", ")), word(m.GetState(), "MATCH_DECISION_STATE_"), r.GetIndex())
}
