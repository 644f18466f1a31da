package caseimport_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/casegen"
	"github.com/accordfed/accord/node/caseimport"
)

// BenchmarkImportDevDataset imports every member's file of the dev dataset
// into a fresh store of that member (parse, validate, spool, write with
// indexes and signed custody events, fsync per batch) and reports cases/s.
func BenchmarkImportDevDataset(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(datasetDir, "cases-*.jsonl"))
	if len(files) == 0 {
		b.Skipf("dev dataset not present at %s", datasetDir)
	}
	type input struct {
		member string
		data   []byte
	}
	var inputs []input
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, input{strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "cases-"), ".jsonl"), data})
	}
	var cases int64
	var elapsed time.Duration
	for b.Loop() {
		for _, in := range inputs {
			b.StopTimer()
			st := openStore(b, in.member)
			a := actor(b, in.member)
			b.StartTimer()
			start := time.Now()
			res, err := caseimport.Run(context.Background(), caseimport.FromReader(bytes.NewReader(in.data)), st,
				caseimport.Options{Member: in.member, Actor: a, SpoolDir: b.TempDir()})
			elapsed += time.Since(start)
			if err != nil || res.Invalid != 0 {
				b.Fatalf("%s: %+v %v", in.member, res, err)
			}
			cases += res.Created
		}
	}
	b.ReportMetric(float64(cases)/elapsed.Seconds(), "cases/s")
}

// BenchmarkImportSynthetic imports 50,000 simple generated cases
// (ACCORD_BENCH_CASES) into one fresh store, for profiling the write path.
func BenchmarkImportSynthetic(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, `{"case_id": "UA-2024-%08d", "country": "UA", "title": "Strike in Odesa %d", "status": "investigation", "crime_codes": ["RS-8.2.b.i", "UA-CC-438"], "incidents": [{"start": "2024-03-%02dT04:00:00+02:00", "end": "2024-03-%02dT05:00:00+02:00", "precision": "hour", "place": "Odesa %d", "lat": 46.48, "lon": 30.72}], "persons": [{"role": "victim", "name": "P"}], "evidence": [{"id": "E-%d-1", "sha256": "%064x"}, {"id": "E-%d-2", "sha256": "%064x"}, {"id": "E-%d-3", "sha256": "%064x"}, {"id": "E-%d-4", "sha256": "%064x"}]}`+"\n",
			(i*7919)%10000000, i, 1+i%28, 1+i%28, i%500, i, i*4, i, i*4+1, i, i*4+2, i, i*4+3)
	}
	data := buf.Bytes()
	var elapsed time.Duration
	var cases int64
	for b.Loop() {
		b.StopTimer()
		st := openStore(b, "UA")
		a := actor(b, "UA")
		b.StartTimer()
		start := time.Now()
		res, err := caseimport.Run(context.Background(), caseimport.FromReader(bytes.NewReader(data)), st, caseimport.Options{Member: "UA", Actor: a, SpoolDir: b.TempDir()})
		elapsed += time.Since(start)
		if err != nil || res.Invalid != 0 {
			b.Fatalf("%+v %v", res.Errors, err)
		}
		cases += res.Created
	}
	b.ReportMetric(float64(cases)/elapsed.Seconds(), "cases/s")
}

// BenchmarkImportGenerated imports a file of 1,000,000 cases made by the
// project's generator (ACCORD_BENCH_CASES for another size) into one fresh
// store: the scale target. The file is made before the clock starts.
func BenchmarkImportGenerated(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(b.TempDir(), "cases-UA.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := casegen.WriteJSONL(f, casegen.Options{Member: "UA", Cases: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	var cases int64
	for b.Loop() {
		b.StopTimer()
		st := openStore(b, "UA")
		a := actor(b, "UA")
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := caseimport.Run(context.Background(), caseimport.FromReader(bufio.NewReaderSize(in, 1<<20)), st,
			caseimport.Options{Member: "UA", Actor: a, SpoolDir: b.TempDir()})
		elapsed += time.Since(start)
		in.Close()
		if err != nil || res.Invalid != 0 {
			b.Fatalf("%+v %v", res.Errors, err)
		}
		cases += res.Created
		if fi, err := os.Stat(st.Path()); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "store-MiB")
		}
	}
	b.ReportMetric(float64(cases)/elapsed.Seconds(), "cases/s")
}
