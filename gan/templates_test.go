package gan

import "testing"

func TestTemplateSlots(t *testing.T) {
	tests := []struct {
		tpl     string
		want    int
		wantErr bool
	}{
		{"{1}", 1, false},
		{"a {1} with {2}", 2, false},
		{"{3}, {1} and {2}", 3, false},
		{"no placeholder", 0, true},
		{"{1} {1}", 0, true},
		{"{2}", 0, true},
		{"{4}", 0, true},
		{"{1} }", 0, true},
		{"} {1}", 0, true},
		{"{1", 0, true},
		{"{x}", 0, true},
	}
	for _, tc := range tests {
		n, err := TemplateSlots(tc.tpl)
		if (err != nil) != tc.wantErr || n != tc.want {
			t.Errorf("TemplateSlots(%q) = %d, %v; want %d, error %v", tc.tpl, n, err, tc.want, tc.wantErr)
		}
	}
}
