package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/node/caseformat"
)

// newMatchCmd matches the cases of several members offline.
func newMatchCmd() *cobra.Command {
	var (
		input, out string
		threshold  float64
		showModel  bool
		memLimitMB int64
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "match --input DIR --out pairs.jsonl",
		Short: "Find cases of different offices that concern the same incident (offline)",
		Long: `match reads every cases-*.jsonl in a folder (the case interchange format, one
file per member, the member code taken from the file name), matches every case
against every other with the federation's matching engine, and writes the likely
duplicate pairs as JSON Lines: {"a", "b", "score", "reasons"}, a < b, each
unordered pair once. The model (Fellegi-Sunter) is fitted by EM to the cases
themselves; persons are compared through person tokens under a fixed local key,
as the federation compares them online. Nothing is sent anywhere.`,
		Example: `  accordctl match --input ../shared/datasets/dedup-dev --out pairs.jsonl`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if input == "" {
				return errors.New("--input: a folder with cases-*.jsonl is required")
			}
			if !(threshold > 0 && threshold < 1) {
				return fmt.Errorf("--threshold %v: must be in (0, 1)", threshold)
			}
			files, err := filepath.Glob(filepath.Join(input, "cases-*.jsonl"))
			if err != nil {
				return fmt.Errorf("--input: %w", err)
			}
			if len(files) == 0 {
				return fmt.Errorf("--input %s: no cases-*.jsonl files", input)
			}
			sort.Strings(files)
			if memLimitMB < 0 {
				return fmt.Errorf("--memory-limit-mb %d: must not be negative", memLimitMB)
			}
			if _, set := os.LookupEnv("GOMEMLIMIT"); !set && memLimitMB > 0 {
				debug.SetMemoryLimit(memLimitMB << 20)
			}
			if cpuProfile != "" {
				pf, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			t0 := time.Now()
			batch := matching.NewBatch(matching.Config{Threshold: threshold})
			// While reading, most of what is allocated is garbage and the
			// heap only grows: collect less often (the memory limit still
			// holds), then as usual for matching.
			old := debug.SetGCPercent(readGCPercent)
			err = loadMatchRecords(files, batch.Add)
			debug.SetGCPercent(old)
			if err != nil {
				return err
			}
			// Give the garbage of reading back before matching packs the
			// records afresh: the peak of the run is then lower.
			debug.FreeOSMemory()
			t1 := time.Now()
			ms, model, st, err := batch.Run(true)
			if err != nil {
				return err
			}
			t2 := time.Now()
			w := cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				defer f.Close()
				w = f
			}
			if err := writePairs(w, ms); err != nil {
				return err
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			errw := cmd.ErrOrStderr()
			if showModel {
				fmt.Fprint(errw, model.String())
			}
			fmt.Fprintf(errw, "%s; read %s, matched %s\n", st, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "folder with cases-<MEMBER>.jsonl files")
	cmd.Flags().StringVar(&out, "out", "-", "file for the pairs (JSON Lines); - for standard output")
	cmd.Flags().Float64Var(&threshold, "threshold", 0.5, "lowest match probability written")
	cmd.Flags().Int64Var(&memLimitMB, "memory-limit-mb", 1536, "soft limit of the heap in MiB: the garbage collector works harder near it (0: none; GOMEMLIMIT, when set, wins)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for go tool pprof)")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	cmd.Flags().BoolVar(&showModel, "show-model", false, "print the fitted model (m, u and weight of every level) to standard error")
	return cmd
}

type pairLine struct {
	A       string   `json:"a"`
	B       string   `json:"b"`
	Score   float64  `json:"score"`
	Reasons []string `json:"reasons"`
}

func writePairs(w io.Writer, ms []matching.Match) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, m := range ms {
		r := m.Reasons
		if r == nil {
			r = []string{}
		}
		if err := enc.Encode(pairLine{A: m.A, B: m.B, Score: m.Score, Reasons: r}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// loadMatchRecords parses the files (member code from the name) and
// builds the matching records, persons' tokens under the offline key,
// handing them to add in chunks, in file and line order: no more than a
// chunk of parsed cases is held at once. Lines are parsed on every CPU;
// invalid lines fail the run with their errors (up to 20 of them).
func loadMatchRecords(files []string, add func([]matching.Record) error) error {
	tokens := matching.OfflineTokens()
	var errs []string
	for _, path := range files {
		member := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "cases-"), ".jsonl")
		if err := loadMatchFile(path, member, tokens, add, &errs); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid input:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// matchChunk is the number of lines parsed together.
const matchChunk = 8192

type lineJob struct {
	no   int64
	line []byte
}

// loadMatchFile reads one file chunk by chunk, in three stages that
// overlap: reading lines, parsing a chunk's lines on every CPU, and
// handing its records to add (which compiles them on every CPU). Once an
// error is seen, the rest is only checked, to report up to 20 errors.
// At most a few chunks are in flight.
func loadMatchFile(path, member string, tokens matching.TokenFunc, add func([]matching.Record) error, errs *[]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	failed := false
	fail := func(s string) {
		mu.Lock()
		failed = true
		if len(*errs) < 20 {
			*errs = append(*errs, s)
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	defer close(stop)
	// Stage 1: lines.
	lines := make(chan []lineJob, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		r := caseformat.NewReader(f)
		jobs := make([]lineJob, 0, matchChunk)
		send := func() bool {
			select {
			case lines <- jobs:
				jobs = make([]lineJob, 0, matchChunk)
				return true
			case <-stop:
				return false
			}
		}
		for {
			line, no, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var fe caseformat.FieldError
				if errors.As(err, &fe) {
					fail(fmt.Sprintf("%s: %v", path, err))
					continue
				}
				readErr <- fmt.Errorf("%s: %w", path, err)
				return
			}
			jobs = append(jobs, lineJob{no: no, line: append([]byte(nil), line...)})
			if len(jobs) == matchChunk && !send() {
				return
			}
		}
		if len(jobs) > 0 {
			send()
		}
	}()
	// Stage 2: records.
	records := make(chan []matching.Record, 1)
	go func() {
		defer close(records)
		for jobs := range lines {
			recs := make([]matching.Record, len(jobs))
			var wg sync.WaitGroup
			workers := runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(jobs); i += workers {
						c, ferrs := caseformat.Parse(jobs[i].line, jobs[i].no, member)
						if len(ferrs) > 0 {
							fail(fmt.Sprintf("%s: %v", path, caseformat.Join(ferrs)))
							continue
						}
						// The token function keeps the tokens of each
						// distinct folded name and year: names repeat
						// across cases, and a person's tokens cost five
						// VOPRF evaluations.
						rec, err := matching.FromCase(c, tokens)
						if err != nil {
							fail(fmt.Sprintf("%s line %d: %v", path, jobs[i].no, err))
							continue
						}
						recs[i] = rec
					}
				}()
			}
			wg.Wait()
			select {
			case records <- recs:
			case <-stop:
				return
			}
		}
	}()
	// Stage 3: add.
	for recs := range records {
		mu.Lock()
		bad := failed
		mu.Unlock()
		if bad {
			continue
		}
		if err := add(recs); err != nil {
			return err
		}
	}
	select {
	case err := <-readErr:
		return err
	default:
		return nil
	}
}

// readGCPercent is the garbage collector's GOGC while the files are read.
const readGCPercent = 300
