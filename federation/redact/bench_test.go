package redact

import (
	"fmt"
	"testing"
)

// BenchmarkText: one shared case's free text (title, place, region, unit)
// against an office of 10,000 persons.
func BenchmarkText(b *testing.B) {
	office := NewNames()
	for i := range 10000 {
		office.Add(fmt.Sprintf("Olena%d Kovalenko%d", i, i))
		office.AddYear(1940 + i%70)
	}
	fields := []string{"Unlawful trial of prisoners in Mala Rohan, 2022-06-30", "Mala Rohan", "Kharkiv Oblast", "64th Separate Motor Rifle Brigade"}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range fields {
			Text(f, office)
		}
	}
}
