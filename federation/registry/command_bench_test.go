package registry

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// The cost of a log entry on every replica, by command version: the
// scenario of the legacy fixtures (every command type, refusals and
// retries; 70 entries) encoded in version 2 (JSON payloads) and in
// version 3 (typed payloads). docs/BENCHMARKS.md (issue 15) has the
// figures.
//
//	go test ./federation/registry -run XXX -bench Command -benchmem

func benchLogs(b *testing.B) map[int][]*raft.Log {
	b.Helper()
	r, _, _, _ := legacyHistory(b, LegacyCommandVersion)
	return map[int][]*raft.Log{
		LegacyCommandVersion: encodeSteps(b, r.steps, always(LegacyCommandVersion)),
		CommandVersion:       encodeSteps(b, r.steps, always(CommandVersion)),
	}
}

// BenchmarkCommandDecode: DecodeCommand of every command entry (the
// envelope and, once, the payload), per entry.
func BenchmarkCommandDecode(b *testing.B) {
	logs := benchLogs(b)
	for _, v := range []int{LegacyCommandVersion, CommandVersion} {
		var data [][]byte
		size := 0
		for _, l := range logs[v] {
			if l.Type == raft.LogCommand {
				data = append(data, l.Data)
				size += len(l.Data)
			}
		}
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range data {
					_, _ = DecodeCommand(d)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(data)), "ns/entry")
			b.ReportMetric(float64(size)/float64(len(data)), "bytes/entry")
		})
	}
}

// BenchmarkCommandApply: FSM.Apply of the whole log into a fresh state
// machine (decoding, the signature's check, the envelope's checks, the
// handler, the exactly-once table), per entry. The signer certificates'
// cache is warm after the first round, as on a running replica.
func BenchmarkCommandApply(b *testing.B) {
	logs := benchLogs(b)
	for _, v := range []int{LegacyCommandVersion, CommandVersion} {
		log := logs[v]
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			b.ReportAllocs()
			certs := newCertCache()
			for b.Loop() {
				f := NewFSM()
				f.certs, f.st.certs = certs, certs
				for _, l := range log {
					if l.Type == raft.LogConfiguration {
						f.StoreConfiguration(l.Index, raft.DecodeConfiguration(l.Data))
						continue
					}
					f.Apply(l)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(log)), "ns/entry")
		})
	}
}
