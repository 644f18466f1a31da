package caseformat

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// benchLines returns the lines of the dev dataset's UA file, or generated
// lines of the same shape when the shared datasets are not present.
func benchLines(b *testing.B) [][]byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(datasetsDir, "dedup-dev", "cases-UA.jsonl"))
	if err != nil {
		b.Logf("shared/datasets not present (%v): generated lines", err)
		return syntheticLines(3000)
	}
	var lines [][]byte
	for l := range bytes.SplitSeq(bytes.TrimSpace(data), []byte("\n")) {
		lines = append(lines, l)
	}
	return lines
}

// BenchmarkParse parses typical lines; ns/op is per line.
func BenchmarkParse(b *testing.B) {
	lines := benchLines(b)
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, errs := Parse(lines[i%len(lines)], 1, "UA"); errs != nil {
			b.Fatal(errs)
		}
	}
}

// BenchmarkParseParallel parses on every core (GOMAXPROCS); ns/op is wall
// time per line over all cores.
func BenchmarkParseParallel(b *testing.B) {
	lines := benchLines(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, errs := Parse(lines[i%len(lines)], 1, "UA"); errs != nil {
				b.Error(errs)
				return
			}
			i++
		}
	})
}

// BenchmarkEncode writes typical cases; ns/op is per line.
func BenchmarkEncode(b *testing.B) {
	lines := benchLines(b)
	cases := parseAll(b, lines, "UA")
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var err error
		if buf, err = Append(buf[:0], cases[i%len(cases)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate checks typical cases as they come from the API.
func BenchmarkValidate(b *testing.B) {
	cases := parseAll(b, benchLines(b), "UA")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if errs := Validate(cases[i%len(cases)], "UA"); errs != nil {
			b.Fatal(errs)
		}
	}
}
