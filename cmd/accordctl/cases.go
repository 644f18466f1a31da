package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/importclient"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func newCasesCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cases",
		Short: "Work with the office's cases on its node (import, export, list, get, create, update, delete)",
		Long: `cases talks to the node's local API with a user certificate of the office
(client.cert_file and client.key_file of --config) and works with the office's
own cases: bring a case register in (import) and take it out again (export) in
the case interchange format (JSON Lines, one case a line), list and read cases,
and create, update or delete single cases.

The node's address is local_api.listen of --config; --server overrides it.`,
		Example: `  accordctl --config ua.yaml cases import register.jsonl
  accordctl --config ua.yaml cases list --status trial --after 2022-03-01
  accordctl --config ua.yaml cases get UA-2022-004211 -o json`,
	}
	addLocalFlags(cmd)
	cmd.AddCommand(newCasesGenerateCmd(), newCasesImportCmd(g), newCasesExportCmd(g), newCasesGetCmd(g), newCasesListCmd(g),
		newCasesCreateCmd(g), newCasesUpdateCmd(g), newCasesDeleteCmd(g))
	return cmd
}

// openInput opens FILE, or standard input for "-". It returns the name to
// show and the size (0 when unknown).
func openInput(cmd *cobra.Command, arg string) (io.ReadCloser, string, int64, error) {
	if arg == "-" {
		return io.NopCloser(cmd.InOrStdin()), "stdin", 0, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", 0, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, "", 0, fmt.Errorf("%s is a folder, not a file", arg)
	}
	size := int64(0)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, arg, size, nil
}

// ---- import ----

type importOptions struct {
	skipInvalid, dryRun bool
}

func newCasesImportCmd(g *globalOptions) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Import cases in the interchange format (JSON Lines) into the node",
		Long: `import streams a file of the case interchange format (one case per line, see
FORMAT.md) to the node, which checks every line before it writes anything. The
case id is the key: a new id creates a case, a changed line updates it (its
version goes up), an identical line changes nothing.

When some lines are invalid, nothing is imported and the errors are listed
(exit status 1): each kind once, with its field and reason, how many lines
have it and the first of them; --skip-invalid imports the valid lines anyway.
--dry-run checks every line and says how many cases an import would create,
update or leave unchanged, and changes nothing. Blank lines are skipped; a line
longer than 1 MiB is invalid. Give - to read standard input.

Progress goes to stderr: the bytes sent while the node validates, then the
cases written.`,
		Example: `  accordctl --config ua.yaml cases import register.jsonl
  accordctl --config ua.yaml cases import --dry-run register.jsonl
  accordctl --config ua.yaml cases import --skip-invalid register.jsonl -o json
  gunzip -c register.jsonl.gz | accordctl --config ua.yaml cases import -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			in, name, size, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			res, err := runImport(cmd.Context(), lc, in, name, size, o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if g.JSON() {
				if err := printJSON(cmd.OutOrStdout(), protoValue(res, true)); err != nil {
					return err
				}
			} else {
				printImportResult(cmd.OutOrStdout(), name, res, o)
			}
			return importOutcome(res, o)
		},
	}
	cmd.Flags().BoolVar(&o.skipInvalid, "skip-invalid", false, "import the valid lines even when some lines are invalid")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "check every line and count the cases an import would create, update or leave unchanged; write nothing")
	return cmd
}

// runImport streams in to ImportCases: one goroutine sends the lines while
// this one receives progress and the result.
func runImport(ctx context.Context, lc *localClient, in io.Reader, name string, size int64, o importOptions, errOut io.Writer) (*accordv1.ImportResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := lc.cases.ImportCases(ctx)
	if err != nil {
		return nil, lc.rpcError("import", err)
	}
	prog := newProgress(errOut, "validating", "", size)

	// The sender fails only when the input cannot be read; it then cancels
	// the stream with that error as the cause, so that the node imports
	// nothing of a file that was not read to its end. Any other failure of
	// the stream is learnt from Recv.
	sent := make(chan error, 1)
	go func() {
		_, err := importclient.Send(stream, in, name, &accordv1.ImportOptions{SkipInvalid: o.skipInvalid, DryRun: o.dryRun, Source: filepath.Base(name)},
			func(s importclient.Sent) { prog.Set(s.Bytes) })
		if err != nil {
			err = fmt.Errorf("import: %w", err)
			cancel(err)
		}
		sent <- err
	}()

	var res *accordv1.ImportResult
	writing := false
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			prog.Done()
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return nil, cause
			}
			// Not waiting for the sender: it may be blocked reading a
			// pipe; cancelling the stream makes it stop sending.
			cancel(nil)
			return nil, lc.rpcError("import", err)
		}
		switch b := msg.GetBody().(type) {
		case *accordv1.ImportCasesResponse_Progress:
			if b.Progress.GetPhase() == accordv1.ImportPhase_IMPORT_PHASE_WRITING {
				if !writing {
					writing = true
					phase := "writing"
					if o.dryRun {
						phase = "comparing"
					}
					prog.Phase(phase, "cases", b.Progress.GetCasesTotal())
				}
				prog.SetTotal(b.Progress.GetCasesTotal())
				prog.Set(b.Progress.GetCasesWritten())
			}
		case *accordv1.ImportCasesResponse_Result:
			res = b.Result
			if writing {
				prog.Set(res.GetCreated() + res.GetUpdated() + res.GetUnchanged())
			}
		}
	}
	// The node answered after the end of the input: the sender is done.
	if serr := <-sent; serr != nil {
		return nil, serr
	}
	prog.Done()
	if res == nil {
		return nil, exitError{code: 1, err: errors.New("import: the node ended the import without a result; check its log")}
	}
	return res, nil
}

func printImportResult(w io.Writer, name string, res *accordv1.ImportResult, o importOptions) {
	fmt.Fprintf(w, "%s: %s lines: %s valid, %s invalid\n", name, formatCount(res.GetLines()), formatCount(res.GetValid()), formatCount(res.GetInvalid()))
	counts := fmt.Sprintf("%s created, %s updated, %s unchanged", formatCount(res.GetCreated()), formatCount(res.GetUpdated()), formatCount(res.GetUnchanged()))
	switch {
	case o.dryRun && (res.GetInvalid() == 0 || o.skipInvalid) && res.GetValid() > 0:
		fmt.Fprintf(w, "dry run: nothing was written; an import would write: %s\n", counts)
	case o.dryRun:
		fmt.Fprintln(w, "dry run: nothing was written")
	case res.GetWritten():
		fmt.Fprintf(w, "written: %s\n", counts)
	default:
		fmt.Fprintln(w, "nothing was written")
	}
	problems := importclient.Problems(res)
	for _, p := range problems {
		fmt.Fprintln(w, formatProblem(p))
	}
	if more := importclient.Unlisted(res); more > 0 {
		// A node of an earlier version lists the first errors only.
		fmt.Fprintf(w, "... and %s more invalid lines (the node lists the first %s errors)\n", formatCount(more), formatCount(int64(len(res.GetErrors()))))
	}
	if res.GetInvalid() > 0 && o.skipInvalid && res.GetWritten() {
		fmt.Fprintf(w, "%s invalid lines were skipped (--skip-invalid)\n", formatCount(res.GetInvalid()))
	}
	if n := res.GetDefaultNational(); n > 0 {
		fmt.Fprintf(w, "%s cases have no sensitivity and are national: shared with no other member (give \"sensitivity\": \"federation\" or \"jit\" to share them)\n", formatCount(n))
	}
	if wh := res.GetWithheld(); len(wh) > 0 {
		var parts []string
		for _, field := range slices.Sorted(maps.Keys(wh)) {
			parts = append(parts, fmt.Sprintf("%s %s", field, formatCount(wh[field])))
		}
		fmt.Fprintf(w, "withheld when shared (names of persons and birth years in free text, blanked): %s\n", strings.Join(parts, ", "))
	}
}

// formatProblem writes one kind of import error on one line: the field,
// the reason and the lines, "incidents[0].start: must be a date
// (YYYY-MM-DD) — 1,000 lines: 3, 7, 12, … (line 3: got "13/01/2022")"; a
// kind found on one line only is written as that line's error.
func formatProblem(p importclient.Problem) string {
	if p.Single() {
		return p.LineError().Error()
	}
	var b strings.Builder
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Reason)
	fmt.Fprintf(&b, " — %s lines: %s", formatCount(p.Lines), p.LineList())
	if p.Detail != "" {
		fmt.Fprintf(&b, " (line %d: %s)", p.FirstLines[0], p.Detail)
	}
	return b.String()
}

// importOutcome turns the result into the exit status: 1 when invalid lines
// kept anything from being imported.
func importOutcome(res *accordv1.ImportResult, o importOptions) error {
	switch {
	case res.GetInvalid() == 0:
		return nil
	case o.dryRun && !o.skipInvalid:
		return exitError{code: 1, err: fmt.Errorf("dry run: %s of %s lines are invalid: an import would write nothing; fix the lines or use --skip-invalid", formatCount(res.GetInvalid()), formatCount(res.GetLines()))}
	case o.dryRun:
		return nil
	case !res.GetWritten() && res.GetValid() == 0:
		return exitError{code: 1, err: fmt.Errorf("nothing was imported: all %s lines are invalid", formatCount(res.GetLines()))}
	case !res.GetWritten():
		return exitError{code: 1, err: fmt.Errorf("nothing was imported: %s of %s lines are invalid; fix the lines or use --skip-invalid", formatCount(res.GetInvalid()), formatCount(res.GetLines()))}
	}
	return nil
}

// ---- filters (list, export) ----

type caseFilterFlags struct {
	status, crimeCode, after, before, place, title string
	search                                         searchFlags
}

func (f *caseFilterFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.status, "status", "", "only cases with this status: investigation, indictment, trial or closed")
	fs.StringVar(&f.crimeCode, "crime-code", "", "only cases with this crime code (RS-8.2.b.i, UA-CC-438)")
	fs.StringVar(&f.after, "after", "", "only cases with an incident that ends after this time (RFC 3339, or YYYY-MM-DD for midnight UTC)")
	fs.StringVar(&f.before, "before", "", "only cases with an incident that starts before this time (RFC 3339, or YYYY-MM-DD for midnight UTC)")
	fs.StringVar(&f.place, "place", "", "only cases with an incident at this place, in any script or spelling (Kharkiv, Харків, Charków; 'Khar*': a prefix)")
	fs.StringVar(&f.title, "title", "", "only cases whose title contains this text (case-insensitive)")
	f.search.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("status", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return statusNames[1:], cobra.ShellCompDirectiveNoFileComp
	})
}

var statusNames = []string{"", "investigation", "indictment", "trial", "closed"}

func (f *caseFilterFlags) build() (*accordv1.CaseFilter, error) {
	out := &accordv1.CaseFilter{CrimeCode: f.crimeCode, Place: f.place, TitleContains: f.title, Text: f.search.text}
	var err error
	if out.NearLat, out.NearLon, out.RadiusKm, err = f.search.parse(); err != nil {
		return nil, err
	}
	if f.status != "" {
		i := indexOf(statusNames, strings.ToLower(f.status))
		if i <= 0 {
			return nil, fmt.Errorf("--status %q: must be investigation, indictment, trial or closed", f.status)
		}
		out.Status = accordv1.CaseStatus(i)
	}
	for _, t := range []struct {
		flag, val string
		into      **timestamppb.Timestamp
	}{{"after", f.after, &out.IncidentAfter}, {"before", f.before, &out.IncidentBefore}} {
		if t.val == "" {
			continue
		}
		ts, err := parseTimeFlag(t.val)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", t.flag, t.val, err)
		}
		*t.into = timestamppb.New(ts)
	}
	return out, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// parseTimeFlag reads RFC 3339 or a date (midnight UTC).
func parseTimeFlag(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("must be an RFC 3339 time (2022-03-01T10:00:00+02:00) or a date (2022-03-01)")
}

// ---- export ----

func newCasesExportCmd(g *globalOptions) *cobra.Command {
	var (
		out    string
		filter caseFilterFlags
	)
	cmd := &cobra.Command{
		Use:   "export [--out FILE] [filters]",
		Short: "Export cases in the interchange format (JSON Lines)",
		Long: `export writes the office's cases (all, or those the filters select) in the case
interchange format, one case per line, ordered by case id: to standard output,
or with --out to a file that is written whole or not at all (a temporary file
renamed at the end; readable by its owner only, since cases hold personal
data). What the node keeps about a case (version, times, who changed it last)
is not part of the format and is not written.`,
		Example: `  accordctl --config ua.yaml cases export --out register.jsonl
  accordctl --config ua.yaml cases export --status trial --crime-code RS-8.2.b.i > trial.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filter.build()
			if err != nil {
				return err
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			if out == "" {
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
				if _, err := exportCases(cmd.Context(), lc, f, w, nil); err != nil {
					return err
				}
				return w.Flush()
			}
			n, err := exportToFile(cmd.Context(), lc, f, out, newProgress(cmd.ErrOrStderr(), "exporting", "cases", 0))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %s cases to %s\n", formatCount(n), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write to this file (atomically) instead of standard output")
	filter.add(cmd)
	return cmd
}

// exportCases writes the cases ExportCases streams, one line each, and
// returns how many.
func exportCases(ctx context.Context, lc *localClient, f *accordv1.CaseFilter, w io.Writer, prog *progress) (int64, error) {
	stream, err := lc.cases.ExportCases(ctx, &accordv1.ExportCasesRequest{Filter: f})
	if err != nil {
		return 0, lc.rpcError("export", err)
	}
	var (
		n   int64
		buf []byte
	)
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, lc.rpcError("export", err)
		}
		for _, c := range msg.GetCases() {
			buf, err = caseformat.Append(buf[:0], c)
			if err != nil {
				return n, fmt.Errorf("export: case %s: %w", c.GetCaseId(), err)
			}
			buf = append(buf, '\n')
			if _, err := w.Write(buf); err != nil {
				return n, fmt.Errorf("export: %w", err)
			}
			n++
		}
		if prog != nil {
			prog.Set(n)
		}
	}
	return n, nil
}

// exportToFile exports into a temporary file beside path and renames it
// into place once everything is written and synced.
func exportToFile(ctx context.Context, lc *localClient, f *accordv1.CaseFilter, path string, prog *progress) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	n, err = exportCases(ctx, lc, f, w, prog)
	prog.Done()
	if err != nil {
		return n, err
	}
	if err = w.Flush(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}

// ---- get ----

func newCasesGetCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get CASE_ID",
		Short: "Show one case",
		Long: `get shows a case: its status, sensitivity and version, crime codes, incidents
(time window, place, region, coordinates), perpetrators, persons and evidence.
Persons' names are the office's own data and are shown, each on a line of its
own. -o json prints the case as the node holds it.`,
		Example: `  accordctl --config ua.yaml cases get UA-2022-004211
  accordctl --config ua.yaml cases get UA-2022-004211 -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCaseIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			resp, err := lc.cases.GetCase(cmd.Context(), &accordv1.GetCaseRequest{CaseId: args[0]})
			if err != nil {
				return lc.rpcError("get case "+args[0], err)
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), resp.GetCase())
			}
			printCase(cmd.OutOrStdout(), resp.GetCase())
			return nil
		},
	}
}

// enumName turns CASE_STATUS_INVESTIGATION into "investigation".
func enumName(full, prefix string) string {
	s := strings.TrimPrefix(full, prefix)
	if s == "UNSPECIFIED" {
		return "-"
	}
	return strings.ToLower(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format("2006-01-02 15:04:05Z")
}

func printCase(w io.Writer, c *accordv1.Case) {
	fmt.Fprintln(w, strings.TrimSpace(c.GetCaseId()+"  "+c.GetTitle()))
	row := func(k, v string) { fmt.Fprintf(w, "  %-13s %s\n", k+":", v) }
	row("country", c.GetCountry())
	row("status", enumName(c.GetStatus().String(), "CASE_STATUS_"))
	row("sensitivity", enumName(c.GetSensitivity().String(), "SENSITIVITY_"))
	row("opened", orDash(c.GetOpened()))
	row("version", fmt.Sprintf("%d, changed %s by %s (created %s)", c.GetVersion(), formatTime(c.GetUpdateTime()), orDash(c.GetUpdateBy()), formatTime(c.GetCreateTime())))
	printIncidentBlock(w, row, c.GetCrimeCodes(), c.VictimCount, c.GetIncidents(), c.GetPerpetrators())
	fmt.Fprintf(w, "persons (%d):\n", len(c.GetPersons()))
	for _, p := range c.GetPersons() {
		line := "  " + enumName(p.GetRole().String(), "PERSON_ROLE_") + ": " + p.GetName()
		if p.BirthYear != nil {
			line += fmt.Sprintf(" (born %d)", p.GetBirthYear())
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "evidence (%d):\n", len(c.GetEvidence()))
	for _, e := range c.GetEvidence() {
		line := fmt.Sprintf("  %s  sha256 %s", e.GetId(), e.GetSha256())
		for _, part := range []string{e.GetMediaType(), prefixed("collected ", e.GetCollected()), e.GetDescription()} {
			if part != "" {
				line += "  " + part
			}
		}
		fmt.Fprintln(w, line)
	}
}

// printIncidentBlock prints what own and shared cases have alike: crime
// codes and victims (as rows), incidents and perpetrators.
func printIncidentBlock(w io.Writer, row func(k, v string), codes []string, victims *int64, incs []*accordv1.Incident, perps []*accordv1.Perpetrator) {
	row("crime codes", orDash(strings.Join(codes, ", ")))
	if victims != nil {
		row("victims", strconv.FormatInt(*victims, 10))
	}
	fmt.Fprintf(w, "incidents (%d):\n", len(incs))
	for _, in := range incs {
		fmt.Fprintf(w, "  %s\n", formatIncident(in))
	}
	fmt.Fprintf(w, "perpetrators (%d):\n", len(perps))
	for _, p := range perps {
		fmt.Fprintf(w, "  %s: %s\n", enumName(p.GetKind().String(), "PERPETRATOR_KIND_"), p.GetName())
	}
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// formatIncident writes an incident on one line: window, precision, place,
// region and coordinates.
func formatIncident(in *accordv1.Incident) string {
	var b strings.Builder
	b.WriteString(in.GetStart())
	if in.GetEnd() != "" {
		b.WriteString(" to " + in.GetEnd())
	}
	if in.GetPrecision() != accordv1.TimePrecision_TIME_PRECISION_UNSPECIFIED {
		b.WriteString(" (" + enumName(in.GetPrecision().String(), "TIME_PRECISION_") + ")")
	}
	b.WriteString("  " + in.GetPlace())
	if in.GetRegion() != "" {
		b.WriteString(", " + in.GetRegion())
	}
	if in.Lat != nil && in.Lon != nil {
		fmt.Fprintf(&b, "  %s, %s", strconv.FormatFloat(in.GetLat(), 'f', -1, 64), strconv.FormatFloat(in.GetLon(), 'f', -1, 64))
		if in.LocationPrecisionM != nil {
			fmt.Fprintf(&b, " ±%d m", in.GetLocationPrecisionM())
		}
	}
	return b.String()
}

// ---- list ----

func newCasesListCmd(g *globalOptions) *cobra.Command {
	var (
		filter    caseFilterFlags
		pageSize  int32
		pageToken string
		all       bool
	)
	cmd := &cobra.Command{
		Use:   "list [filters] [--page-size N] [--page-token T] [--all]",
		Short: "List cases, a page at a time",
		Long: `list shows the office's cases that match the filters, ordered by case id: the
case id, status, first incident (date as written, and place) and title. The
node returns a page at a time (--page-size, default 50, at most 1000); the
token for the next page is printed after the table, to pass to --page-token.
--all fetches every page (1000 cases a page unless --page-size is given). Filters must stay the same from page to page.

` + searchHelp + `
Place, near and the incident window (--after, --before) hold for one incident.`,
		Example: `  accordctl --config ua.yaml cases list
  accordctl --config ua.yaml cases list --place Kharkiv --after 2022-03-01 --before 2022-04-01
  accordctl --config ua.yaml cases list --place Charków --near 49.99,36.23 --radius 30 --text shelling
  accordctl --config ua.yaml cases list --crime-code RS-8.2.b.i --all -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filter.build()
			if err != nil {
				return err
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			if all && pageSize == 0 {
				pageSize = 1000 // the node's largest page: fewer round trips
			}
			out := cmd.OutOrStdout()
			var collected accordv1.ListCasesResponse
			tok := pageToken
			for first := true; ; first = false {
				resp, err := lc.cases.ListCases(cmd.Context(), &accordv1.ListCasesRequest{PageSize: pageSize, PageToken: tok, Filter: f})
				if err != nil {
					return lc.rpcError("list cases", err)
				}
				tok = resp.GetNextPageToken()
				switch {
				case g.JSON():
					collected.Cases = append(collected.Cases, resp.GetCases()...)
					collected.NextPageToken = tok
				default:
					printCaseTable(out, resp.GetCases(), first)
				}
				if !all || tok == "" {
					break
				}
			}
			if g.JSON() {
				return printJSON(out, protoValue(&collected, false))
			}
			if tok != "" {
				fmt.Fprintf(out, "next page: --page-token %s\n", tok)
			}
			return nil
		},
	}
	filter.add(cmd)
	cmd.Flags().Int32Var(&pageSize, "page-size", 0, "cases per page (default 50, at most 1000)")
	cmd.Flags().StringVar(&pageToken, "page-token", "", "the token printed after the previous page")
	cmd.Flags().BoolVar(&all, "all", false, "fetch every page")
	return cmd
}

// listTitleWidth is how many characters of a title the table shows.
const listTitleWidth = 60

func printCaseTable(w io.Writer, cases []*accordv1.Case, header bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "CASE ID\tSTATUS\tFIRST INCIDENT\tTITLE")
		if len(cases) == 0 {
			fmt.Fprintln(tw, "(no cases)\t\t\t")
		}
	}
	for _, c := range cases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.GetCaseId(), enumName(c.GetStatus().String(), "CASE_STATUS_"), firstIncident(c), truncate(c.GetTitle(), listTitleWidth))
	}
	_ = tw.Flush()
}

// firstIncident returns the date (as written, in the incident's own offset)
// and place of the case's earliest incident.
func firstIncident(c *accordv1.Case) string {
	var (
		best   *accordv1.Incident
		bestAt time.Time
	)
	for _, in := range c.GetIncidents() {
		t, err := time.Parse(time.RFC3339, in.GetStart())
		if err != nil {
			continue
		}
		if best == nil || t.Before(bestAt) {
			best, bestAt = in, t
		}
	}
	if best == nil {
		return "-"
	}
	date := best.GetStart()
	if len(date) >= 10 {
		date = date[:10]
	}
	return date + " " + best.GetPlace()
}

// truncate cuts s to n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n-1 {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// ---- create, update ----

// maxCaseFile bounds a file given to create or update.
const maxCaseFile = 4 * caseformat.MaxLineBytes

// readOneCase reads a case from FILE (or stdin) and parses it locally, so
// that mistakes are reported precisely before anything is sent. The file
// holds one line of the interchange format; an indented JSON object is
// accepted too.
func readOneCase(cmd *cobra.Command, arg, member string) (*accordv1.Case, error) {
	in, name, _, err := openInput(cmd, arg)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	data, err := io.ReadAll(io.LimitReader(in, maxCaseFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxCaseFile {
		return nil, fmt.Errorf("%s: larger than %s: a single case is one line of at most 1 MiB", name, formatBytes(maxCaseFile))
	}
	var (
		line  []byte
		lineN int64
		count int
	)
	r := caseformat.NewReader(bytes.NewReader(data))
	for {
		l, n, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		count++
		if count == 1 {
			line, lineN = bytes.Clone(l), n
		}
	}
	switch {
	case count == 0:
		return nil, fmt.Errorf("%s: empty: give one case in the interchange format", name)
	case count > 1:
		// An indented object is one case too.
		var compact bytes.Buffer
		if err := json.Compact(&compact, bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))); err != nil {
			return nil, fmt.Errorf("%s: %d lines: give one case (one line of the interchange format, or one JSON object); to bring in many, use accordctl cases import", name, count)
		}
		line, lineN = compact.Bytes(), 0
	}
	c, errs := caseformat.Parse(line, lineN, member)
	if len(errs) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s is not a valid case; nothing was sent:", name)
		for _, e := range errs {
			b.WriteString("\n  " + e.Error())
		}
		return nil, exitError{code: 1, err: errors.New(b.String())}
	}
	return c, nil
}

func newCasesCreateCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "create FILE|-",
		Short: "Create one case from a file in the interchange format",
		Long: `create registers a new case. FILE (or standard input for -) holds the case as
one line of the interchange format (an indented JSON object is accepted too).
It is checked here first, so that mistakes are reported with their field
before anything is sent; the case id must not exist yet (use update to change
a case). Prints the stored case's id and version.`,
		Example: `  accordctl --config ua.yaml cases create case.json
  echo '{"case_id":"UA-2024-000001","country":"UA","incidents":[{"start":"2024-02-01T10:00:00+02:00","place":"Kharkiv"}]}' | accordctl --config ua.yaml cases create -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			c, err := readOneCase(cmd, args[0], lc.id.Member)
			if err != nil {
				return err
			}
			resp, err := lc.cases.CreateCase(cmd.Context(), &accordv1.CreateCaseRequest{Case: c})
			if err != nil {
				return lc.rpcError("create case "+c.GetCaseId(), err)
			}
			return printStored(cmd.OutOrStdout(), g, "created", resp.GetCase())
		},
	}
}

func newCasesUpdateCmd(g *globalOptions) *cobra.Command {
	var expected int64
	cmd := &cobra.Command{
		Use:   "update FILE|- [--expected-version N]",
		Short: "Replace one case's content from a file in the interchange format",
		Long: `update replaces the content of an existing case with the case in FILE (or
standard input for -), one line of the interchange format, checked here first.
The case's version goes up. With --expected-version the node refuses the
update (Aborted) if someone changed the case since that version, so that
nobody's change is overwritten unseen.`,
		Example: `  accordctl --config ua.yaml cases get UA-2022-004211 -o json   # note the version
  accordctl --config ua.yaml cases update case.json --expected-version 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expected < 0 {
				return errors.New("--expected-version: must not be negative")
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			c, err := readOneCase(cmd, args[0], lc.id.Member)
			if err != nil {
				return err
			}
			resp, err := lc.cases.UpdateCase(cmd.Context(), &accordv1.UpdateCaseRequest{Case: c, ExpectedVersion: expected})
			if err != nil {
				return lc.rpcError("update case "+c.GetCaseId(), err)
			}
			return printStored(cmd.OutOrStdout(), g, "updated", resp.GetCase())
		},
	}
	cmd.Flags().Int64Var(&expected, "expected-version", 0, "refuse the update unless the stored case has this version")
	return cmd
}

func printStored(w io.Writer, g *globalOptions, verb string, c *accordv1.Case) error {
	if g.JSON() {
		return printProto(w, c)
	}
	fmt.Fprintf(w, "%s %s (version %d)\n", verb, c.GetCaseId(), c.GetVersion())
	return nil
}

// ---- delete ----

func newCasesDeleteCmd(g *globalOptions) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "delete CASE_ID --reason TEXT",
		Short: "Delete a case (admins only), recording why",
		Long: `delete removes a case from the node. Only users listed in local_api.admins of
the node's configuration may do it (others get PermissionDenied); the node
records who deleted the case, when, and the reason given.`,
		Example:           `  accordctl --config ua.yaml cases delete UA-2022-004211 --reason "registered twice; see UA-2022-004212"`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCaseIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason: required: say why the case is deleted")
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			resp, err := lc.cases.DeleteCase(cmd.Context(), &accordv1.DeleteCaseRequest{CaseId: args[0], Reason: reason})
			if err != nil {
				return lc.rpcError("delete case "+args[0], err)
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), resp.GetCase())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s (it was at version %d)\n", resp.GetCase().GetCaseId(), resp.GetCase().GetVersion())
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the case is deleted (required; recorded)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}
