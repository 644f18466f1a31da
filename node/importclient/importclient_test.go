package importclient

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// recorder is a Stream that keeps what is sent.
type recorder struct {
	sent   []*accordv1.ImportCasesRequest
	closed bool
}

func (r *recorder) Send(m *accordv1.ImportCasesRequest) error {
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) CloseSend() error {
	r.closed = true
	return nil
}

// TestSend: the options first, then the numbered lines (blank ones
// skipped but counted) in chunks of ChunkLines, a line over the format's
// bound marked too long; the sending side closed at the end.
func TestSend(t *testing.T) {
	var in strings.Builder
	for range ChunkLines + 1 {
		in.WriteString("{}\n")
	}
	in.WriteString("\n  \n" + strings.Repeat("x", caseformat.MaxLineBytes+1) + "\n{}")
	rec := &recorder{}
	var progress []int64
	sent, err := Send(rec, strings.NewReader(in.String()), "register.jsonl", &accordv1.ImportOptions{SkipInvalid: true}, func(s Sent) { progress = append(progress, s.Bytes) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != 3 || !rec.sent[0].GetOptions().GetSkipInvalid() || !rec.closed {
		t.Fatalf("sent %d messages (closed %v), want the options and 2 chunks", len(rec.sent), rec.closed)
	}
	first, second := rec.sent[1].GetChunk().GetLines(), rec.sent[2].GetChunk().GetLines()
	if len(first) != ChunkLines || first[0].GetNumber() != 1 || string(first[0].GetJson()) != "{}" {
		t.Errorf("first chunk: %d lines, first %v", len(first), first[0])
	}
	var nums []int64
	for _, l := range second {
		nums = append(nums, l.GetNumber())
	}
	if !slices.Equal(nums, []int64{ChunkLines + 1, ChunkLines + 4, ChunkLines + 5}) || !second[1].GetTooLong() || len(second[1].GetJson()) != 0 {
		t.Errorf("second chunk: lines %v, too long %v", nums, second[1])
	}
	if sent.Lines != ChunkLines+3 || sent.Bytes != int64(in.Len()) || len(progress) != 2 || progress[1] != sent.Bytes {
		t.Errorf("sent %+v, progress %v (input %d bytes)", sent, progress, in.Len())
	}
}

// failing reads some bytes and then fails.
type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n > 0 {
		f.n = 0
		return copy(p, "{}\n{}\n"), nil
	}
	return 0, io.ErrUnexpectedEOF
}

// TestSendReadError: an input that fails is Send's error (ErrRead, with the
// source's), and the sending side is not closed: the caller cancels.
func TestSendReadError(t *testing.T) {
	rec := &recorder{}
	_, err := Send(rec, &failing{n: 1}, "the upload", &accordv1.ImportOptions{}, nil)
	if !errors.Is(err, ErrRead) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "the upload") {
		t.Fatalf("err %v", err)
	}
	if rec.closed {
		t.Error("the sending side was closed after a failed read: the node would import a partial file")
	}
}

// TestProblems: a kind on one line is that line's error in full; a kind on
// many lines keeps the general reason, the first line's value as Detail,
// and says there are more; a result without groups lists its errors and
// counts the lines it leaves out.
func TestProblems(t *testing.T) {
	res := &accordv1.ImportResult{Invalid: 13, ErrorGroups: []*accordv1.ImportErrorGroup{
		{Field: "incidents[0].start", Reason: "must be a date (YYYY-MM-DD)", Example: `must be a date (YYYY-MM-DD) (got "13/01/2022")`, Lines: 12,
			FirstLines: []int64{3, 7, 12, 13, 14, 15, 16, 17, 18, 19}},
		{Field: "", Reason: "not a JSON object", Example: "not a JSON object: invalid character 'c'", Lines: 1, FirstLines: []int64{5}},
	}}
	ps := Problems(res)
	if len(ps) != 2 {
		t.Fatalf("%d problems", len(ps))
	}
	if p := ps[0]; p.Single() || p.Detail != `got "13/01/2022"` || !p.More || p.LineList() != "3, 7, 12, 13, 14, 15, 16, 17, 18, 19, …" || p.Reason != "must be a date (YYYY-MM-DD)" {
		t.Errorf("group of 12: %+v", p)
	}
	if p := ps[1]; !p.Single() || p.LineError().Error() != "line 5: not a JSON object: invalid character 'c'" || p.Detail != "" {
		t.Errorf("one line's: %+v", p)
	}
	if Unlisted(res) != 0 {
		t.Errorf("a grouped result leaves out %d", Unlisted(res))
	}
	old := &accordv1.ImportResult{Invalid: 5, Errors: []*accordv1.LineError{{Line: 2, Field: "title", Reason: "is required"}, {Line: 2, Field: "country", Reason: "is required"}}}
	ps = Problems(old)
	if len(ps) != 2 || ps[0].LineError().Error() != "line 2: title: is required" || Unlisted(old) != 4 {
		t.Errorf("ungrouped: %+v, unlisted %d", ps, Unlisted(old))
	}
}
