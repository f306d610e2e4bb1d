package pulid

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestMarshalGQLAsQuote: every ID is written as strconv.Quote writes it.
func TestMarshalGQLAsQuote(t *testing.T) {
	ids := []ID{"", "cv_01JD3V6Q7Z8K9M0N1P2R3S4T5V", New("ms"), `a"b`, `a\b`, "tab\there", "é", "\x7f", "\x01", "<&>", "日本"}
	for _, id := range ids {
		var b strings.Builder
		id.MarshalGQL(&b)
		if want := strconv.Quote(string(id)); b.String() != want {
			t.Errorf("MarshalGQL(%q) = %s, want %s", string(id), b.String(), want)
		}
	}
}

func BenchmarkMarshalGQL(b *testing.B) {
	id := New("cv")
	var w bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		id.MarshalGQL(&w)
	}
}
