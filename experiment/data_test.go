package experiment

import (
	"slices"
	"testing"

	"github.com/vbg-museum/vbg/data"
)

func TestCapPerClass(t *testing.T) {
	var recs []data.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, data.Record{ID: string(rune('a'+i%26)) + string(rune('0'+i/26)), LabelID: i % 3})
	}
	tests := []struct {
		name string
		max  int
		want int
	}{{"cap 4", 4, 12}, {"cap above counts", 50, 30}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CapPerClass(recs, tc.max, 7)
			if len(got) != tc.want {
				t.Fatalf("%d records, want %d", len(got), tc.want)
			}
			per := map[int]int{}
			for _, r := range got {
				per[r.LabelID]++
			}
			for c, n := range per {
				if n > tc.max {
					t.Fatalf("class %d keeps %d", c, n)
				}
			}
			// The choice does not depend on record order.
			rev := slices.Clone(recs)
			slices.Reverse(rev)
			again := CapPerClass(rev, tc.max, 7)
			ids := func(rs []data.Record) []string {
				var s []string
				for _, r := range rs {
					s = append(s, r.ID)
				}
				slices.Sort(s)
				return s
			}
			if !slices.Equal(ids(got), ids(again)) {
				t.Fatal("subsample depends on record order")
			}
		})
	}
}
