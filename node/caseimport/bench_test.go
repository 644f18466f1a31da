package caseimport_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
