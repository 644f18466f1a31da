package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/config"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newFederationCmds returns the commands about what crosses between
// members: federation (the federation index and the exchange's status,
// through the node's local API) and audit (the node's audit log, read from
// its file).
func newFederationCmds(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newFederationCmd(g), newAuditCmd(g)}
}

// ---- federation ----

func newFederationCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federation",
		Short: "See what the other members share with this office (cases, status)",
		Long: `federation talks to the node's local API with a user certificate of the office
and shows what the other members share: their shared cases as this node holds
them (cases, one of them: get), and how pulling from each member goes (status).

The node's address is local_api.listen of --config; --server overrides it.`,
		Example: `  accordctl --config pl.yaml federation cases --place Kharkiv --from 2022-03-01 --to 2022-03-31
  accordctl --config pl.yaml federation get UA UA-2022-004211
  accordctl --config pl.yaml federation status`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newFederationCasesCmd(g), newFederationGetCmd(g), newFederationStatusCmd(g))
	return cmd
}

// fedClient is a local API connection with the FederationIndexService.
type fedClient struct {
	*localClient
	index   accordv1.FederationIndexServiceClient
	timeout time.Duration
}

func openFed(g *globalOptions, cmd *cobra.Command) (*fedClient, error) {
	c, err := openCoord(g, cmd) // --timeout and the connection
	if err != nil {
		return nil, err
	}
	return &fedClient{localClient: c.localClient, index: accordv1.NewFederationIndexServiceClient(c.conn), timeout: c.timeout}, nil
}

func (c *fedClient) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), c.timeout)
}

// fedDate checks a --from or --to date.
func fedDate(flag, s string) error {
	if s == "" {
		return nil
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return fmt.Errorf("--%s %q: must be a date, YYYY-MM-DD", flag, s)
	}
	return nil
}

func newFederationCasesCmd(g *globalOptions) *cobra.Command {
	var (
		req    accordv1.ListFederationCasesRequest
		all    bool
		search searchFlags
	)
	cmd := &cobra.Command{
		Use:   "cases [--member M] [--place P] [--near LAT,LON --radius KM] [--text W] [--crime C] [--from D] [--to D] [--page-size N] [--page-token T] [--all]",
		Short: "List the other members' shared cases that this node holds",
		Long: `cases lists the cases other members share with this office, as this node's
federation index holds them, in (member, case id) order: member, case id,
status, the day and place of the first incident, how many evidence items and
person encodings it carries, and its title.

Filters: --member (a member code), --place (below), --near and --radius,
--text, --crime (a crime code, exactly), --from and --to (dates, YYYY-MM-DD,
in UTC: cases with an incident that touches those days). Place, near and
dates must hold for the same incident.

` + searchHelp + `

The node returns a page at a time (--page-size, default 100, at most 1000);
the token for the next page is printed after the table, to pass to
--page-token with the same filters. --all fetches every page.`,
		Example: `  accordctl --config pl.yaml federation cases
  accordctl --config pl.yaml federation cases --member UA --place Kharkiv --from 2022-03-01 --to 2022-03-31
  accordctl --config pl.yaml federation cases --place Харків --text shelling
  accordctl --config pl.yaml federation cases --near 50.45,30.52 --radius 25
  accordctl --config pl.yaml federation cases --crime RS-8.2.b.i --all -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.NearLat, req.NearLon, req.RadiusKm, err = search.parse(); err != nil {
				return err
			}
			req.Text = search.text
			if req.Member != "" {
				if err := regMemberArg("--member", req.Member); err != nil {
					return err
				}
			}
			if err := fedDate("from", req.From); err != nil {
				return err
			}
			if err := fedDate("to", req.To); err != nil {
				return err
			}
			if req.PageSize < 0 || req.PageSize > 1000 {
				return fmt.Errorf("--page-size %d: must be 1 to 1000", req.PageSize)
			}
			c, err := openFed(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if all && req.PageSize == 0 {
				req.PageSize = 1000 // the node's largest page: fewer round trips
			}
			out := cmd.OutOrStdout()
			var collected accordv1.ListFederationCasesResponse
			for first := true; ; first = false {
				ctx, cancel := c.ctx(cmd)
				resp, err := c.index.ListFederationCases(ctx, &req)
				cancel()
				if err != nil {
					return c.rpcError("federation cases", err)
				}
				req.PageToken = resp.GetNextPageToken()
				if g.JSON() {
					collected.Cases = append(collected.Cases, resp.GetCases()...)
					collected.NextPageToken = req.PageToken
				} else {
					printFedCases(out, resp.GetCases(), first)
				}
				if !all || req.PageToken == "" {
					break
				}
			}
			if g.JSON() {
				return printJSON(out, protoValue(&collected, false))
			}
			if req.PageToken != "" {
				fmt.Fprintf(out, "next page: --page-token %s\n", req.PageToken)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Member, "member", "", "only cases of this member (code)")
	f.StringVar(&req.Place, "place", "", "only cases with an incident at this place, in any script or spelling (Kharkiv, Харків, Charków; 'Khar*': a prefix)")
	f.StringVar(&req.CrimeCode, "crime", "", "only cases with this crime code")
	f.StringVar(&req.From, "from", "", "only cases with an incident on or after this day (YYYY-MM-DD, UTC)")
	f.StringVar(&req.To, "to", "", "only cases with an incident on or before this day (YYYY-MM-DD, UTC)")
	f.Int32Var(&req.PageSize, "page-size", 0, "cases per page (default 100, at most 1000)")
	f.StringVar(&req.PageToken, "page-token", "", "the token printed after the previous page")
	f.BoolVar(&all, "all", false, "fetch every page")
	search.add(cmd)
	return cmd
}

func printFedCases(w io.Writer, cases []*accordv1.FederationCase, header bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "MEMBER\tCASE\tSTATUS\tDAY\tPLACE\tEVIDENCE\tPERSONS\tTITLE")
		if len(cases) == 0 {
			fmt.Fprintln(tw, "(no cases)\t\t\t\t\t\t\t")
		}
	}
	for _, fc := range cases {
		c := fc.GetCase()
		day, place := fedFirstIncident(c.GetIncidents())
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", fc.GetMember(), c.GetCaseId(),
			enumName(c.GetStatus().String(), "CASE_STATUS_"), day, truncate(oneLine(orDash(place)), 30),
			len(c.GetEvidence()), len(c.GetPersons()), truncate(oneLine(c.GetTitle()), listTitleWidth))
	}
	_ = tw.Flush()
}

// fedFirstIncident returns the day (as written, in the incident's own
// offset) and place of the earliest incident.
func fedFirstIncident(incs []*accordv1.Incident) (day, place string) {
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
	if best == nil {
		if len(incs) == 0 {
			return "-", ""
		}
		best = incs[0]
	}
	day = best.GetStart()
	if len(day) >= 10 {
		day = day[:10]
	}
	return orDash(day), best.GetPlace()
}

func newFederationStatusCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show how pulling from each member goes, and this node's own feed",
		Long: `status shows, for each other member, how this node pulls its shared cases:
whether a Sync stream is open and the member's node answers (connected),
is open but silent (not answering: nothing, not even a heartbeat, for twice
exchange.heartbeat_interval), or the last attempt failed (unreachable); when
the member's node was last heard (records or a heartbeat: a few seconds ago
on a healthy node) and when it last sent a change (long ago on an idle
feed); how far behind this node is, in feed entries (unknown while the
member does not answer) and in time since it was last up to date; how many of the member's
records this node holds; and, since the node started, how many records it
refused (bad signature, malformed, not meant for this member), found stale
(older than the copy held), and how often it resynced in full; and the last
error. A member whose records are held but that is not pulled (no longer
admitted) shows as "not pulled".

It ends with this node's own feed: its head (the last sequence number
published) and how many changes of its cases wait to be published.`,
		Example: `  accordctl --config pl.yaml federation status
  accordctl --config pl.yaml federation status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openFed(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := c.ctx(cmd)
			defer cancel()
			st, err := c.index.FederationStatus(ctx, &accordv1.FederationStatusRequest{})
			if err != nil {
				return c.rpcError("federation status", err)
			}
			if g.JSON() {
				return printJSON(cmd.OutOrStdout(), protoValue(st, true))
			}
			printFedStatus(cmd.OutOrStdout(), st, time.Now())
			return nil
		},
	}
}

// fedState says in a word how pulling from a member goes.
func fedState(p *accordv1.PeerSyncStatus) string {
	switch {
	case p.GetNode() == "":
		return "not pulled"
	case p.GetConnected() && p.GetAnswering():
		return "connected"
	case p.GetConnected():
		return "not answering"
	case p.GetLastError() != "":
		return "unreachable"
	case p.GetLastHeard() == nil:
		return "connecting"
	default:
		return "idle"
	}
}

func printFedStatus(w io.Writer, st *accordv1.FederationStatusResponse, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tLAST HEARD\tLAST CHANGE\tLAG\tBEHIND FOR\tHELD\tREFUSED\tSTALE\tRESYNCS\tNODE\tERROR")
	if len(st.GetPeers()) == 0 {
		fmt.Fprintln(tw, "(no members)\t\t\t\t\t\t\t\t\t\t\t")
	}
	for _, p := range st.GetPeers() {
		lag := strconv.FormatUint(p.GetLagRecords(), 10)
		if !p.GetAnswering() && p.GetNode() != "" {
			lag = "unknown"
		}
		behind := "-"
		if p.GetLagSeconds() > 0 {
			behind = humanDuration(time.Duration(p.GetLagSeconds() * float64(time.Second)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", p.GetMember(), fedState(p),
			sinceStamp(now, p.GetLastHeard()), sinceStamp(now, p.GetLastSync()), lag, behind, p.GetRecordsHeld(), p.GetRefused(), p.GetStale(), p.GetResyncs(),
			orDash(p.GetNode()), orDash(truncate(oneLine(p.GetLastError()), 80)))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nthis node's feed: head %d, %s waiting to be published\n", st.GetFeedHead(), plural(int64(st.GetFeedPending()), "change"))
}

// ago says how long ago, in words: "12s ago".
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return humanDuration(d) + " ago"
}

// humanDuration is a duration to the second, shortened: 12s, 4m10s, 3h5m,
// 2d4h.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	default:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
}

// ---- audit ----

func newAuditCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check and read the node's audit log of federation traffic (verify, show)",
		Long: `audit reads the node's audit log, the hash-chained file of what the node
sent, received and served, to which member, and what it refused:
<data_dir>/audit.log of --config, or the file given with --file. It reads the
file directly, so it runs on the node's host (with read access to its data
folder), and works while the node runs.`,
		Example: `  accordctl --config ua.yaml audit verify
  accordctl audit verify --file /var/lib/accord/audit.log
  accordctl --config ua.yaml audit show --peer PL --kind served --since 24h`,
	}
	cmd.PersistentFlags().String("file", "", "the audit log file (default: <data_dir>/audit.log of --config)")
	cmd.AddCommand(newAuditVerifyCmd(g), newAuditShowCmd(g))
	return cmd
}

// auditPath returns the log file: --file, or audit.log in data_dir of the
// configuration.
func auditPath(g *globalOptions, cmd *cobra.Command) (string, error) {
	if f := cmd.Flags().Lookup("file"); f != nil && f.Value.String() != "" {
		return f.Value.String(), nil
	}
	path := g.configPath
	if path == "" {
		path = os.Getenv(config.EnvPrefix + "CONFIG")
	}
	if path == "" {
		return "", errors.New("no audit log: give --config FILE (the node's configuration; the log is <data_dir>/audit.log) or --file PATH")
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return "", err
	}
	if cfg.DataDir == "" {
		return "", fmt.Errorf("%s: data_dir is not set, so the audit log cannot be found; give --file PATH", path)
	}
	return filepath.Join(cfg.DataDir, audit.FileName), nil
}

// auditReport is what verify prints with --output json.
type auditReport struct {
	File          string      `json:"file"`
	OK            bool        `json:"ok"`
	Entries       uint64      `json:"entries"`
	First         *time.Time  `json:"first,omitempty"`
	Last          *time.Time  `json:"last,omitempty"`
	Head          string      `json:"head"`
	Anchors       int         `json:"anchors"`
	LastAnchorSeq uint64      `json:"last_anchor_seq,omitempty"`
	Unanchored    uint64      `json:"unanchored"`
	TornBytes     int64       `json:"torn_bytes,omitempty"`
	Break         *auditBreak `json:"break,omitempty"`
}

type auditBreak struct {
	Line   int    `json:"line"`
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

func newAuditVerifyCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [--file PATH]",
		Short: "Check the audit log's hash chain from its first entry to its last",
		Long: `verify reads the whole audit log, recomputes every entry's hash and checks
every link: sequence numbers without gaps, each entry's prev equal to the hash
of the entry before, times in order, and every line in the one form the log
writes. It prints how many entries it read, the times of the first and last,
and the head (the last entry's hash: note it down, a later verify must still
hold it), then OK, or the first broken entry: its line, its sequence number
and what is wrong.

Exit status: 0 when the chain is intact, 2 when it is broken, 1 when the file
cannot be read. Whole entries cut off the end of the file cannot be seen from
the file alone: compare the head with one noted earlier.`,
		Example: `  accordctl --config ua.yaml audit verify
  accordctl audit verify --file /backup/audit.log -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := auditPath(g, cmd)
			if err != nil {
				return err
			}
			rep, err := audit.Verify(path)
			brk, broken := errors.AsType[*audit.Break](err)
			if err != nil && !broken {
				return exitError{code: 1, err: err}
			}
			out := auditReport{
				File: path, OK: !broken, Entries: rep.Entries, Head: rep.Head,
				Anchors: rep.Anchors, LastAnchorSeq: rep.LastAnchorSeq, Unanchored: rep.Unanchored, TornBytes: rep.TornBytes,
			}
			if rep.Entries > 0 {
				out.First, out.Last = &rep.First, &rep.Last
			}
			if broken {
				out.Break = &auditBreak{Line: brk.Line, Seq: brk.Seq, Reason: brk.Reason}
			}
			w := cmd.OutOrStdout()
			if g.JSON() {
				if err := printJSON(w, out); err != nil {
					return err
				}
			} else {
				printAuditReport(w, out)
			}
			if broken {
				return exitError{code: 2, err: fmt.Errorf("audit log %s is broken at line %d (entry %d): %s", path, brk.Line, brk.Seq, brk.Reason)}
			}
			return nil
		},
	}
}

func printAuditReport(w io.Writer, r auditReport) {
	row := func(k, v string) { fmt.Fprintf(w, "%-9s %s\n", k+":", v) }
	row("file", r.File)
	n := plural(int64(r.Entries), "entry")
	if r.Entries != 1 {
		n = formatCount(int64(r.Entries)) + " entries"
	}
	if r.Break != nil {
		n += " intact before the break"
	}
	row("entries", n)
	if r.First != nil {
		row("first", r.First.UTC().Format(time.RFC3339Nano))
		row("last", r.Last.UTC().Format(time.RFC3339Nano))
	}
	row("head", fmt.Sprintf("%s (entry %d)", r.Head, r.Entries))
	if r.Anchors > 0 {
		row("anchors", fmt.Sprintf("%d, the last at entry %d, %d entries after it (signatures not checked)", r.Anchors, r.LastAnchorSeq, r.Unanchored))
	}
	if r.TornBytes > 0 {
		row("torn", fmt.Sprintf("an unfinished last line of %d bytes (a crash or a write in progress; not a break)", r.TornBytes))
	}
	if r.Break != nil {
		fmt.Fprintf(w, "BROKEN at line %d (entry %d): %s\n", r.Break.Line, r.Break.Seq, r.Break.Reason)
		return
	}
	fmt.Fprintln(w, "OK: the chain is intact")
}

// parseSince reads --since: an RFC 3339 time, or a duration back from now
// (90m, 24h, 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("--since %q: must be a time (RFC 3339, 2026-03-01T10:00:00Z) or a duration back from now (90m, 24h, 7d)", s)
	}
	return now.Add(-d), nil
}

func newAuditShowCmd(g *globalOptions) *cobra.Command {
	var (
		peer, kind, since string
		limit             int
	)
	cmd := &cobra.Command{
		Use:   "show [--peer M] [--kind K] [--since T] [--limit N]",
		Short: "List audit log entries: who, what kind, how many records, which feed sequence numbers",
		Long: `show lists the audit log's entries in order, checking the chain as it reads:
sequence number, time, kind, the member, how many records, the feed sequence
numbers (from-to), and the reason of a refusal or resync.

Kinds (this node is the subject): sent, received, served, refused, nudged,
resync, withheld, restored (the node's data was restored from a backup: the
backup's sha256 in the cursor column, what became of the history as the
reason), and anchor (a signed checkpoint). --since takes a time (RFC 3339) or
a duration back from now (90m, 24h, 7d). --limit stops after N entries.
-o json prints one entry per line (JSON Lines), as the log holds it.

When the chain is broken, the entries before the break are listed and the
command fails (exit status 2) naming the line.`,
		Example: `  accordctl --config ua.yaml audit show --since 24h
  accordctl --config ua.yaml audit show --peer PL --kind refused
  accordctl --config ua.yaml audit show --kind served --limit 100 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f audit.Filter
			if peer != "" {
				if err := regMemberArg("--peer", peer); err != nil {
					return err
				}
				f.Peer = peer
			}
			if kind != "" {
				k, err := audit.ParseKind(strings.ToLower(kind))
				if err != nil {
					return fmt.Errorf("--kind %q: must be sent, received, served, refused, nudged, resync, anchor, withheld or restored", kind)
				}
				f.Kind = k
			}
			t, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			f.Since = t
			if limit < 0 {
				return fmt.Errorf("--limit %d: must not be negative", limit)
			}
			f.Limit = limit
			path, err := auditPath(g, cmd)
			if err != nil {
				return err
			}
			return showAudit(cmd.OutOrStdout(), path, f, g.JSON())
		},
	}
	cmd.Flags().StringVar(&peer, "peer", "", "only entries about this member (code)")
	cmd.Flags().StringVar(&kind, "kind", "", "only entries of this kind: sent, received, served, refused, nudged, resync, anchor, withheld, restored, evaluated, lookup")
	cmd.Flags().StringVar(&since, "since", "", "only entries at or after this time (RFC 3339) or this long ago (24h, 7d)")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many entries (0: all)")
	return cmd
}

// auditRow is the fixed-width row format of show (the log can be long:
// rows are written as they are read).
const auditRow = "%-8s  %-24s  %-15s  %-6s  %-12s  %7s  %-17s  %s\n"

func showAudit(w io.Writer, path string, f audit.Filter, asJSON bool) error {
	if !asJSON {
		fmt.Fprintf(w, auditRow, "SEQ", "TIME", "KIND", "PEER", "USER", "RECORDS", "SEQS", "REASON")
	}
	n := 0
	err := audit.Scan(path, f, func(e audit.Entry) error {
		n++
		if asJSON {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		}
		records, seqs := "-", "-"
		if e.What.Records > 0 {
			records = strconv.Itoa(e.What.Records)
		}
		switch {
		case e.What.FromSeq > 0 && e.What.ToSeq > 0:
			seqs = fmt.Sprintf("%d-%d", e.What.FromSeq, e.What.ToSeq)
		case e.What.ToSeq > 0:
			seqs = fmt.Sprintf("up to %d", e.What.ToSeq)
		case e.What.FromSeq > 0:
			seqs = fmt.Sprintf("from %d", e.What.FromSeq)
		}
		// USER: the peer's user on whose behalf its node asked (person
		// lookups), or this office's user who looked up.
		user := "-"
		if id, err := identity.Parse(e.PeerID); err == nil && id.Kind == identity.KindUser {
			user = id.Name
		}
		_, err := fmt.Fprintf(w, auditRow, strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format("2006-01-02 15:04:05.000Z"),
			e.Kind, orDash(e.Peer), user, records, seqs, orDash(e.What.Reason))
		return err
	})
	if brk, ok := errors.AsType[*audit.Break](err); ok {
		return exitError{code: 2, err: fmt.Errorf("audit log %s is broken at line %d (entry %d): %s; the entries before it are listed", path, brk.Line, brk.Seq, brk.Reason)}
	}
	if err != nil {
		return exitError{code: 1, err: err}
	}
	if n == 0 && !asJSON {
		fmt.Fprintln(w, "(no entries)")
	}
	return nil
}
