package train

import "testing"

func TestPoolImageAndWords(t *testing.T) {
	// A 4×4 image whose red channel is 1 in the left half.
	img := make([]float32, 3*16)
	for y := 0; y < 4; y++ {
		for x := 0; x < 2; x++ {
			img[y*4+x] = 1
		}
	}
	got := poolImage(img, 4, 2)
	want := []float32{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("poolImage = %v, want %v", got, want)
		}
	}
	ws := bowWords([]string{"Red apple.", "red car", "green apple, red"}, 2)
	if len(ws) != 2 || ws[0] != "red" || ws[1] != "apple" {
		t.Errorf("bowWords = %v, want [red apple]", ws)
	}
}
