package coordination

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestRenameFields(t *testing.T) {
	in := fmt.Errorf("%w: name: is required", registry.ErrInvalidArgument)
	out := renameFields(in, map[string]string{"name": "jit.display_name", "invite": "invite_members"})
	if !errors.Is(out, registry.ErrInvalidArgument) || out.Error() != "invalid argument: jit.display_name: is required" {
		t.Errorf("got %v", out)
	}
	in = fmt.Errorf("%w: invite[2]: member XX", registry.ErrNotFound)
	if out := renameFields(in, map[string]string{"invite": "invite_members"}); out.Error() != "not found: invite_members[2]: member XX" {
		t.Errorf("got %v", out)
	}
	// A field that only starts like a mapped one is left alone.
	in = fmt.Errorf("%w: names: x", registry.ErrInvalidArgument)
	if out := renameFields(in, map[string]string{"name": "jit.display_name"}); out.Error() != in.Error() {
		t.Errorf("got %v", out)
	}
}

func TestUpdateMask(t *testing.T) {
	in := &accordv1.StrategyEntry{Title: "t", Text: "x"}
	m, err := updateMask(in, nil)
	if err != nil || !m["title"] || !m["text"] || m["kind"] || m["targets"] {
		t.Errorf("implied mask %v, %v", m, err)
	}
	if m, err := updateMask(in, []string{"*"}); err != nil || !m["kind"] || !m["targets"] {
		t.Errorf("* %v, %v", m, err)
	}
	for paths, want := range map[string]string{"etag": "update_mask.paths[0]", "title,colour": "update_mask.paths[1]"} {
		_, err := updateMask(in, strings.Split(paths, ","))
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("%s: %v, want %s", paths, err, want)
		}
	}
	if _, err := updateMask(&accordv1.StrategyEntry{}, nil); !strings.Contains(fmt.Sprint(err), "update_mask: names no field") {
		t.Errorf("empty: %v", err)
	}
}

func TestPaginate(t *testing.T) {
	s := New(nil, "UA", nil, nil)
	id := identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: "a"}
	ids := []string{"jit-000009", "jit-000010", "jit-999999", "jit-1000000"}
	var got []string
	token := ""
	for range 5 {
		p, err := s.pageOf(id, "m", 3, token, "f")
		if err != nil {
			t.Fatal(err)
		}
		pg, next := paginate(s, p, ids, func(s string) string { return s })
		got = append(got, pg...)
		if next == "" {
			break
		}
		token = next
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("pages %v", got)
	}
	if _, err := s.pageOf(id, "m", -1, "", "f"); !strings.Contains(fmt.Sprint(err), "page_size") {
		t.Errorf("negative page size: %v", err)
	}
	if p, _ := s.pageOf(id, "m", 5000, "", "f"); p.size != maxPageSize {
		t.Errorf("page size %d", p.size)
	}
	if p, _ := s.pageOf(id, "m", 0, "", "f"); p.size != defaultPageSize {
		t.Errorf("page size %d", p.size)
	}
}

func TestEtags(t *testing.T) {
	for in, want := range map[string]int{"": 0, `"3"`: 3, `W/"12"`: 12, "7": 7} {
		if got, err := parseEtag("etag", in); err != nil || got != want {
			t.Errorf("parseEtag(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := parseEtag("strategy_entry.etag", `"x"`); !strings.Contains(fmt.Sprint(err), "strategy_entry.etag") {
		t.Errorf("bad etag: %v", err)
	}
	err := aborted("etag", fmt.Errorf("%w: expected_version: strategy entry e is at version 3, not 2", registry.ErrFailedPrecondition))
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "etag: strategy entry e is at version 3") {
		t.Errorf("aborted: %v", err)
	}
}

func TestTypedNotARegistryServer(t *testing.T) {
	s := New(nil, "UA", func(identity.Identity) bool { return true }, nil)
	_, err := s.GetJit(userCtx("analyst"), &accordv1.GetJitRequest{Name: "jits/jit-000001"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "registry.server") {
		t.Fatalf("%v", err)
	}
}
