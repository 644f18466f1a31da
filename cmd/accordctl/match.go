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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/personenc"
	"github.com/accordfed/accord/node/caseformat"
)

// newMatchCmd matches the cases of several members offline.
func newMatchCmd() *cobra.Command {
	var (
		input, out string
		threshold  float64
		showModel  bool
	)
	cmd := &cobra.Command{
		Use:   "match --input DIR --out pairs.jsonl",
		Short: "Find cases of different offices that concern the same incident (offline)",
		Long: `match reads every cases-*.jsonl in a folder (the case interchange format, one
file per member, the member code taken from the file name), matches every case
against every other with the federation's matching engine, and writes the likely
duplicate pairs as JSON Lines: {"a", "b", "score", "reasons"}, a < b, each
unordered pair once. The model (Fellegi-Sunter) is fitted by EM to the cases
themselves; persons are compared through keyed encodings under a fixed local key,
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
			t0 := time.Now()
			recs, err := loadMatchRecords(files)
			if err != nil {
				return err
			}
			t1 := time.Now()
			ms, model, st, err := matching.MatchAll(recs, matching.Config{Threshold: threshold}, true)
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

// loadMatchRecords parses the files (member code from the name) and builds
// the matching records, persons encoded under the offline key. Lines are
// parsed on every CPU; an invalid line fails the run with its errors.
func loadMatchRecords(files []string) ([]matching.Record, error) {
	enc := matching.OfflineEncoder()
	cache := newEncodingCache(enc)
	var out []matching.Record
	for _, path := range files {
		member := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "cases-"), ".jsonl")
		recs, err := loadMatchFile(path, member, cache)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

type lineJob struct {
	no   int64
	line []byte
	idx  int
}

func loadMatchFile(path, member string, cache *encodingCache) ([]matching.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := caseformat.NewReader(f)
	jobs := make(chan lineJob, 1024)
	var (
		mu   sync.Mutex
		recs []matching.Record
		errs []string
		wg   sync.WaitGroup
	)
	set := func(i int, rec matching.Record) {
		mu.Lock()
		for len(recs) <= i {
			recs = append(recs, matching.Record{})
		}
		recs[i] = rec
		mu.Unlock()
	}
	fail := func(s string) {
		mu.Lock()
		if len(errs) < 20 {
			errs = append(errs, s)
		}
		mu.Unlock()
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c, ferrs := caseformat.Parse(j.line, j.no, member)
				if len(ferrs) > 0 {
					fail(fmt.Sprintf("%s: %v", path, caseformat.Join(ferrs)))
					continue
				}
				rec, err := matching.FromCase(c, nil)
				if err != nil {
					fail(fmt.Sprintf("%s line %d: %v", path, j.no, err))
					continue
				}
				for _, p := range c.GetPersons() {
					if e, ok := cache.encode(p.GetName(), int(p.GetBirthYear())); ok {
						rec.Persons = append(rec.Persons, e)
					}
				}
				set(j.idx, rec)
			}
		}()
	}
	idx := 0
	var readErr error
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
			readErr = err
			break
		}
		jobs <- lineJob{no: no, line: append([]byte(nil), line...), idx: idx}
		idx++
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return nil, fmt.Errorf("%s: %w", path, readErr)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid input:\n  %s", strings.Join(errs, "\n  "))
	}
	return recs, nil
}

// encodingCache encodes each distinct (name, birth year) once: names repeat
// across cases, and a keyed encoding costs a few hundred HMACs.
type encodingCache struct {
	enc *personenc.Encoder
	mu  sync.RWMutex
	m   map[string]*personenc.Encoding
}

func newEncodingCache(enc *personenc.Encoder) *encodingCache {
	return &encodingCache{enc: enc, m: map[string]*personenc.Encoding{}}
}

func (c *encodingCache) encode(name string, year int) (personenc.Encoding, bool) {
	k := fmt.Sprint(year, "\x00", name)
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		if e == nil {
			return personenc.Encoding{}, false
		}
		return *e, true
	}
	v, err := c.enc.Encode(personenc.Person{Name: name, BirthYear: year})
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.m[k] = nil
		return personenc.Encoding{}, false
	}
	c.m[k] = &v
	return v, true
}
