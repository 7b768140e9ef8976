package data

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeCOCOFixture writes captions_val2017.json and instances_val2017.json excerpts in the
// published layout (info, licenses, images, annotations[, categories]) and the images.
func writeCOCOFixture(t *testing.T) (dir, captions, instances, images string) {
	t.Helper()
	dir = t.TempDir()
	images = filepath.Join(dir, "val2017")
	imgJSON := func(id int) string {
		return fmt.Sprintf(`{"license": 4, "file_name": "%012d.jpg", "coco_url": "http://images.cocodataset.org/val2017/%012d.jpg", "height": 24, "width": 32, "date_captured": "2013-11-14 17:02:52", "flickr_url": "http://farm7.staticflickr.com/x.jpg", "id": %d}`, id, id, id)
	}
	var imgs []string
	ids := []int{139, 285, 632, 724, 776, 785, 802, 872, 885, 1000}
	for _, id := range ids {
		imgs = append(imgs, imgJSON(id))
	}
	// Ten more images of the "animal" supercategory and ten "furniture", so every class splits.
	for i := 0; i < 20; i++ {
		imgs = append(imgs, imgJSON(5000+i))
		ids = append(ids, 5000+i)
	}
	head := `{"info": {"description": "COCO 2017 Dataset", "url": "http://cocodataset.org", "version": "1.0", "year": 2017, "contributor": "COCO Consortium", "date_created": "2017/09/01"}, "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "Attribution-NonCommercial-ShareAlike License"}], "images": [` + strings.Join(imgs, ", ") + `], "annotations": [`
	var caps []string
	capID := 1
	for _, id := range ids {
		if id == 802 { // no captions
			continue
		}
		n := 5
		if id == 885 {
			n = 1
		}
		for k := 0; k < n; k++ {
			text := fmt.Sprintf("A caption %d of image %d.", k, id)
			if id == 885 {
				text = "   "
			}
			caps = append(caps, fmt.Sprintf(`{"image_id": %d, "id": %d, "caption": %q}`, id, 1000-capID, text))
			capID++
		}
	}
	captions = writeFile(t, filepath.Join(dir, "annotations", "captions_val2017.json"), []byte(head+strings.Join(caps, ", ")+"]}"))

	ann := func(id, img, cat int, area float64, crowd int) string {
		return fmt.Sprintf(`{"segmentation": [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], "area": %g, "iscrowd": %d, "image_id": %d, "bbox": [1.0, 2.0, 3.0, 4.0], "category_id": %d, "id": %d}`, area, crowd, img, cat, id)
	}
	anns := []string{
		ann(1, 139, 1, 100, 0), ann(2, 139, 62, 500, 0), // chair (furniture) is the largest
		ann(3, 285, 23, 9000, 0),                         // bear
		ann(4, 632, 1, 50, 0), ann(5, 632, 18, 20000, 1), // crowd dog ignored: person
		ann(6, 724, 1, 10, 0),
		ann(7, 776, 23, 10, 0),
		ann(8, 785, 1, 10, 0),
		ann(9, 802, 62, 10, 0),  // no captions -> empty_text
		ann(10, 872, 99, 10, 0), // unknown category
		ann(11, 885, 1, 10, 0),  // blank caption -> empty_text
		// 1000: no objects
	}
	for i := 0; i < 20; i++ {
		cat := 23
		if i >= 10 {
			cat = 62
		}
		anns = append(anns, ann(100+i, 5000+i, cat, 10, 0))
	}
	cats := `"categories": [{"supercategory": "person", "id": 1, "name": "person"}, {"supercategory": "animal", "id": 18, "name": "dog"}, {"supercategory": "animal", "id": 23, "name": "bear"}, {"supercategory": "furniture", "id": 62, "name": "chair"}]`
	instances = writeFile(t, filepath.Join(dir, "annotations", "instances_val2017.json"), []byte(head+strings.Join(anns, ", ")+"], "+cats+"}"))
	for _, id := range ids {
		writeJPEG(t, filepath.Join(images, fmt.Sprintf("%012d.jpg", id)), 32, 24, id)
	}
	return dir, captions, instances, images
}

func TestPrepareCOCO(t *testing.T) {
	dir, captions, instances, images := writeCOCOFixture(t)
	o := quietOptions(filepath.Join(dir, "out"))
	o.MaxBadShare = 0.2
	card, err := PrepareCOCO(COCOOptions{PrepareOptions: o, Captions: captions, Instances: instances, Images: images})
	if err != nil {
		t.Fatal(err)
	}
	if card.Bad[BadEmptyText] != 2 || card.Bad[BadUnknownLabel] != 1 || card.Skipped[SkipNoObjects] != 1 {
		t.Errorf("bad %v skipped %v", card.Bad, card.Skipped)
	}
	p, err := Open(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Labels, []string{"animal", "furniture", "person"}) {
		t.Errorf("labels %v", p.Labels)
	}
	byID := map[string]Record{}
	for _, r := range p.Records {
		byID[r.ID] = r
	}
	want := map[string]string{"139": "furniture", "285": "animal", "632": "person", "724": "person"}
	for id, l := range want {
		if byID[id].Label != l {
			t.Errorf("image %s: label %q, want %q", id, byID[id].Label, l)
		}
	}
	r := byID["139"]
	if len(r.Texts) != 5 || r.Texts[0] != "A caption 4 of image 139." || r.Attrs["category"] != "chair" || r.Attrs["objects"] != "2" {
		t.Errorf("record 139: %+v", r)
	}
	if r.Image != filepath.Join(images, "000000000139.jpg") {
		t.Errorf("image %s", r.Image)
	}

	// By category.
	o.Out = filepath.Join(dir, "out-cat")
	card, err = PrepareCOCO(COCOOptions{PrepareOptions: o, Captions: captions, Instances: instances, Images: images, UseCategory: true})
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, c := range card.PerClass {
		labels = append(labels, c.Label)
	}
	if !slices.Equal(labels, []string{"bear", "chair", "person"}) {
		t.Errorf("category labels %v", labels)
	}

	// Captions passed as instances: a clear error.
	if _, err := PrepareCOCO(COCOOptions{PrepareOptions: o, Captions: captions, Instances: captions, Images: images}); err == nil ||
		!strings.Contains(err.Error(), "no categories") {
		t.Errorf("err = %v", err)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.json"), []byte(`[1, 2]`))
	if _, err := PrepareCOCO(COCOOptions{PrepareOptions: o, Captions: bad, Instances: instances, Images: images}); err == nil ||
		!strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("err = %v", err)
	}
}
