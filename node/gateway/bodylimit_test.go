package gateway

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestValueLimit: a body of JSON values passes whole while every value is
// within the limit, however long the body, and fails as soon as one value
// grows past it; braces and quotes inside strings do not end a value.
func TestValueLimit(t *testing.T) {
	small := `{"title":"a } ] \" { [ b","n":[1,2,{"x":3}]}`
	for _, tc := range []struct {
		name string
		body string
		max  int64
		ok   bool
	}{
		{"one value within", small, int64(len(small)), true},
		{"one value one byte over", small, int64(len(small)) - 1, false},
		{"a stream of values each within", strings.Repeat(small+"\n", 1000), int64(len(small)) + 1, true},
		{"a stream with one value over", strings.Repeat(small+"\n", 10) + `{"title":"` + strings.Repeat("x", 200) + `"}` + "\n" + small, 100, false},
		{"an unterminated string", `{"title":"` + strings.Repeat("}", 500), 100, false},
		{"an escaped quote does not end the string", `{"t":"\"}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"}`, 20, false},
		{"nesting", strings.Repeat("[", 50) + strings.Repeat("]", 50), 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read as well: a value split across reads.
			for _, r := range []io.Reader{strings.NewReader(tc.body), iotest.OneByteReader(strings.NewReader(tc.body))} {
				got, err := io.ReadAll(newValueLimit(r, tc.max))
				if tc.ok {
					if err != nil || string(got) != tc.body {
						t.Fatalf("read %d of %d bytes, err %v", len(got), len(tc.body), err)
					}
					continue
				}
				if !errors.Is(err, ErrValueTooLarge) {
					t.Fatalf("err = %v, want ErrValueTooLarge", err)
				}
			}
		})
	}
}
