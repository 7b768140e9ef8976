package seed

import "testing"

func TestMix(t *testing.T) {
	for _, tc := range []struct {
		base uint64
		vals []uint64
		want uint64
	}{
		// splitmix64's first output for state 0 (as in Vigna's C code).
		{0, nil, 0xe220a8397b1dcdaf},
		{0, []uint64{0}, next(0xe220a8397b1dcdaf)},
		{42, []uint64{1, 2}, next(next(next(42)^1) ^ 2)},
	} {
		if got := Mix(tc.base, tc.vals...); got != tc.want {
			t.Errorf("Mix(%d, %v) = %#x, want %#x", tc.base, tc.vals, got, tc.want)
		}
	}
	if Mix(42, 1) == Mix(42, 2) || Mix(42, 1) == Mix(43, 1) || Mix(42, 1, 2) == Mix(42, 2, 1) {
		t.Error("different inputs gave the same seed")
	}
	for _, v := range []uint64{0, 1, 7, 1 << 40} {
		if s := Torch(42, v); s < 0 || uint64(s) != Mix(42, v)>>1 {
			t.Errorf("Torch(42, %d) = %d", v, s)
		}
	}
}
