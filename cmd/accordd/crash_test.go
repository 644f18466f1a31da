package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// crashLines makes n valid, distinct case lines of member UA.
func crashLines(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"case_id": "UA-2024-%07d", "country": "UA", "title": "Strike on an apartment block in Odesa, case %d", "status": "investigation", "sensitivity": "federation", "crime_codes": ["RS-8.2.b.i", "UA-CC-438"], "incidents": [{"start": "2024-03-%02dT04:00:00+02:00", "end": "2024-03-%02dT05:00:00+02:00", "precision": "hour", "place": "Odesa", "region": "Odesa Oblast", "lat": 46.48, "lon": 30.72}], "perpetrators": [], "persons": [{"role": "victim", "name": "Person %d"}], "victim_count": 3, "evidence": [{"id": "UA-2024-%07d-E001", "sha256": "%064x", "media_type": "image/jpeg"}, {"id": "UA-2024-%07d-E002", "sha256": "%064x", "media_type": "video/mp4"}]}`,
			i, i, 1+i%28, 1+i%28, i, i, 2*i+1, i, 2*i+2)
	}
	return out
}

type daemonProc struct {
	cmd  *exec.Cmd
	logs *logWatcher
	done chan struct{}
}

func startDaemon(t *testing.T, bin, cfgPath string) (*daemonProc, string) {
	t.Helper()
	cmd := exec.Command(bin, "--config", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, logs: &logWatcher{}, done: make(chan struct{})}
	go func() { p.logs.consume(stderr); close(p.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done; _ = cmd.Wait() })
	var local string
	waitFor(t, 30*time.Second, func() error {
		l := p.logs.find("node started")
		if l == nil {
			return fmt.Errorf("not started; log:\n%s", p.logs.text())
		}
		local, _ = l["local_api"].(string)
		return nil
	})
	return p, local
}

func caseClient(t *testing.T, addr string, cfg mtls.Config) accordv1.CaseServiceClient {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(src.ClientCredentials(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return accordv1.NewCaseServiceClient(cc)
}

// importAll streams lines; onProgress may return true to stop reading.
func importAll(ctx context.Context, c accordv1.CaseServiceClient, lines [][]byte, onProgress func(*accordv1.ImportProgress) bool) (*accordv1.ImportResult, error) {
	stream, err := c.ImportCases(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Options{Options: &accordv1.ImportOptions{Source: "crash-test"}}}); err != nil {
		return nil, err
	}
	go func() {
		for i := 0; i < len(lines); i += 1000 {
			chunk := &accordv1.ImportChunk{}
			for j := i; j < min(i+1000, len(lines)); j++ {
				chunk.Lines = append(chunk.Lines, &accordv1.ImportLine{Number: int64(j + 1), Json: lines[j]})
			}
			if stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: chunk}}) != nil {
				return
			}
		}
		_ = stream.CloseSend()
	}()
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if p := resp.GetProgress(); p != nil && onProgress != nil && onProgress(p) {
			return nil, nil
		}
		if r := resp.GetResult(); r != nil {
			return r, nil
		}
	}
}

// TestKillDuringImport kills accordd (SIGKILL) while it writes a large
// import: after a restart the store opens and holds whole cases only, exactly
// as imported, and running the import again completes it.
func TestKillDuringImport(t *testing.T) {
	bin := buildAccordd(t)
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	cfgPath := writeConfig(t, fed.Node("UA", "ua-1"), "")
	user := fed.User("UA", "u-1")
	const n = 30000
	lines := crashLines(n)

	p, local := startDaemon(t, bin, cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	killed := false
	_, err := importAll(ctx, caseClient(t, local, user), lines, func(pr *accordv1.ImportProgress) bool {
		if pr.GetPhase() == accordv1.ImportPhase_IMPORT_PHASE_WRITING && pr.GetCasesWritten() > 0 && pr.GetCasesWritten() < n {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("import before the kill: %v", err)
	}
	if !killed {
		t.Fatal("the import finished before it could be killed; make it larger")
	}
	<-p.done

	_, local = startDaemon(t, bin, cfgPath)
	client := caseClient(t, local, user)
	want := map[string]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		want[m["case_id"].(string)] = m
	}
	stored := exportAll(t, client)
	if len(stored) == 0 || len(stored) >= n {
		t.Fatalf("after the kill the store holds %d of %d cases; the kill came at the wrong time", len(stored), n)
	}
	for id, got := range stored {
		if !reflect.DeepEqual(got, want[id]) {
			t.Fatalf("case %s is not whole after the kill:\n got  %v\n want %v", id, got, want[id])
		}
	}
	t.Logf("the kill left %d whole cases of %d", len(stored), n)

	res, err := importAll(ctx, client, lines, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetCreated() != int64(n-len(stored)) || res.GetUnchanged() != int64(len(stored)) || res.GetUpdated() != 0 {
		t.Fatalf("rerun: %v", res)
	}
	if got := len(exportAll(t, client)); got != n {
		t.Fatalf("after the rerun: %d cases, want %d", got, n)
	}
}

func exportAll(t *testing.T, c accordv1.CaseServiceClient) map[string]map[string]any {
	t.Helper()
	stream, err := c.ExportCases(context.Background(), &accordv1.ExportCasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range resp.GetCases() {
			b, err := caseformat.Encode(cs)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			out[cs.GetCaseId()] = m
		}
	}
}
