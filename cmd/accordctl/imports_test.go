package main

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestNoRegistryImport: accordctl speaks to the registry through the
// generated client of the .proto files only; the registry's Go types are
// not its wire contract.
func TestNoRegistryImport(t *testing.T) {
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "github.com/accordfed/accord/federation/registry" || strings.HasPrefix(path, "github.com/accordfed/accord/federation/registry/") {
				t.Errorf("%s imports %s: use the generated client (proto/accord/v1)", f.Name(), path)
			}
		}
	}
}
