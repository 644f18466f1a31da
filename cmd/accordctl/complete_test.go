package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// complete runs cobra's __complete as a shell does on TAB, with the
// configuration and server flags before the word being completed.
func (e *localEnv) complete(t *testing.T, server string, words ...string) (string, string, time.Duration) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	args := append([]string{"__complete", "--config", e.analyst, "--server", server}, words...)
	root.SetArgs(args)
	start := time.Now()
	if err := root.Execute(); err != nil {
		t.Fatalf("__complete %v: %v", words, err)
	}
	return out.String(), errOut.String(), time.Since(start)
}

// completions returns the ids a completion offered (without the
// descriptions, flags and cobra's directive line).
func completions(out string) []string {
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" || strings.HasPrefix(l, ":") || strings.HasPrefix(l, "-") {
			continue
		}
		v, _, _ := strings.Cut(l, "\t")
		vals = append(vals, v)
	}
	return vals
}

// TestCompletionOfIDsFromTheNode: case and evidence ids complete from the
// node, with the case's title; an unreachable node completes nothing,
// quietly and quickly.
func TestCompletionOfIDsFromTheNode(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "import", writeLines(t, "register.jsonl", smallCases))

	out, _, _ := e.complete(t, e.addr, "cases", "get", "UA-2022")
	if got := strings.Join(completions(out), " "); got != "UA-2022-000001 UA-2022-000002 UA-2022-000003" {
		t.Errorf("cases get UA-2022<TAB> = %q\n%s", got, out)
	}
	if !strings.Contains(out, "UA-2022-000002\tStrike on hospital in Chernihiv\n") || !strings.HasSuffix(out, ":4\n") {
		t.Errorf("no title or not the no-file directive:\n%s", out)
	}
	out, _, _ = e.complete(t, e.addr, "cases", "delete", "")
	if n := len(completions(out)); n != 5 {
		t.Errorf("cases delete <TAB>: %d ids\n%s", n, out)
	}
	// The second argument of a one-argument command completes nothing.
	out, _, _ = e.complete(t, e.addr, "cases", "get", "UA-2022-000001", "")
	if len(completions(out)) != 0 {
		t.Errorf("second argument completed:\n%s", out)
	}
	out, _, _ = e.complete(t, e.addr, "evidence", "add", "--case", "UA-2023")
	if got := strings.Join(completions(out), " "); got != "UA-2023-000004 UA-2023-000005" {
		t.Errorf("evidence add --case UA-2023<TAB> = %q", got)
	}
	out, _, _ = e.complete(t, e.addr, "custody", "show", "UA-")
	if got := strings.Join(completions(out), " "); got != "UA-2022-000001-E001" {
		t.Errorf("custody show UA-<TAB> = %q", got)
	}

	// A node that is not there: nothing, and nothing on stderr but cobra's
	// own note of the directive (which the shell scripts discard).
	quiet := func(what, out, errOut string, took, limit time.Duration) {
		t.Helper()
		errOut = strings.TrimSpace(strings.ReplaceAll(errOut, "Completion ended with directive: ShellCompDirectiveNoFileComp", ""))
		if len(completions(out)) != 0 || errOut != "" || took > limit {
			t.Errorf("%s: %q, stderr %q, took %s (at most %s)", what, out, errOut, took, limit)
		}
	}
	// A listener that accepts and never answers: the TLS handshake hangs,
	// and the completion gives up after completionTimeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	out, errOut, took := e.complete(t, ln.Addr().String(), "cases", "get", "UA-")
	quiet("silent node", out, errOut, took, completionTimeout+time.Second)
	if took < completionTimeout-100*time.Millisecond {
		t.Errorf("silent node: gave up after %s, before the timeout", took)
	}
	e.node.Close()
	out, errOut, took = e.complete(t, e.addr, "cases", "get", "UA-")
	quiet("stopped node", out, errOut, took, completionTimeout+time.Second)
}
