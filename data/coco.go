package data

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// COCOOptions configures PrepareCOCO.
type COCOOptions struct {
	PrepareOptions
	// Captions is captions_*.json, Instances the matching instances_*.json, Images the
	// folder holding the images' file_name (for example val2017/).
	Captions, Instances, Images string
	// UseCategory labels by the category name (80 classes) instead of the supercategory
	// (12 classes).
	UseCategory bool
}

type cocoImage struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

type cocoCaption struct {
	ID      int64  `json:"id"`
	ImageID int64  `json:"image_id"`
	Caption string `json:"caption"`
}

type cocoInstance struct {
	ID         int64   `json:"id"`
	ImageID    int64   `json:"image_id"`
	CategoryID int64   `json:"category_id"`
	Area       float64 `json:"area"`
	IsCrowd    int     `json:"iscrowd"`
}

type cocoCategory struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Supercategory string `json:"supercategory"`
}

// PrepareCOCO prepares an MS COCO split. The label is the supercategory (or category) of the
// image's largest-area object, preferring non-crowd annotations; every caption is kept as a
// text. Images without objects are skipped (no_objects).
func PrepareCOCO(o COCOOptions) (*Card, error) {
	if o.Captions == "" || o.Instances == "" || o.Images == "" {
		return nil, errors.New("prepare coco: need the captions JSON, the instances JSON and the image folder")
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("prepare coco: %w", err)
	}
	if err := o.checkInputs(o.Captions, o.Instances); err != nil {
		return nil, fmt.Errorf("prepare coco: %w", err)
	}
	root, err := filepath.Abs(o.Images)
	if err != nil {
		return nil, fmt.Errorf("prepare coco: %w", err)
	}
	field := "supercategory"
	if o.UseCategory {
		field = "category"
	}
	c := &candidates{
		source: "coco", imageRoot: root, labelField: field,
		inputs:  map[string]string{"captions": o.Captions, "instances": o.Instances, "images": o.Images},
		options: map[string]string{"label": field},
	}
	d, err := readCOCO(o)
	if err != nil {
		return abort(c, o.PrepareOptions, err)
	}
	addCOCORecords(c, o, d)
	return finish(c, o.PrepareOptions)
}

// cocoData is what PrepareCOCO reads from the two annotation files.
type cocoData struct {
	images   map[int64]cocoImage
	captions map[int64][]cocoCaption
	best     map[int64]cocoInstance // the labelling annotation of each image
	objects  map[int64]int          // annotations per image
	cats     map[int64]cocoCategory
}

// readCOCO streams the captions and instances files.
func readCOCO(o COCOOptions) (*cocoData, error) {
	d := &cocoData{images: map[int64]cocoImage{}, captions: map[int64][]cocoCaption{},
		best: map[int64]cocoInstance{}, objects: map[int64]int{}, cats: map[int64]cocoCategory{}}
	addImages := func(dec *json.Decoder) error {
		return decodeArray(dec, func(im cocoImage) error {
			if _, ok := d.images[im.ID]; !ok {
				d.images[im.ID] = im
			}
			return nil
		})
	}
	err := streamObject(o.Captions, o.PrepareOptions, map[string]func(*json.Decoder) error{
		"images": addImages,
		"annotations": func(dec *json.Decoder) error {
			return decodeArray(dec, func(a cocoCaption) error {
				d.captions[a.ImageID] = append(d.captions[a.ImageID], a)
				return nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	err = streamObject(o.Instances, o.PrepareOptions, map[string]func(*json.Decoder) error{
		"images": addImages,
		"annotations": func(dec *json.Decoder) error {
			return decodeArray(dec, func(a cocoInstance) error {
				d.objects[a.ImageID]++
				if b, ok := d.best[a.ImageID]; !ok || betterInstance(a, b) {
					d.best[a.ImageID] = a
				}
				return nil
			})
		},
		"categories": func(dec *json.Decoder) error {
			return decodeArray(dec, func(k cocoCategory) error {
				d.cats[k.ID] = k
				return nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if len(d.cats) == 0 {
		return nil, fmt.Errorf("%s has no categories: is it an instances_*.json file?", o.Instances)
	}
	return d, nil
}

// addCOCORecords adds a record per image in id order, or records why it is skipped.
func addCOCORecords(c *candidates, o COCOOptions, d *cocoData) {
	ids := make([]int64, 0, len(d.images))
	for id := range d.images {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	capBase, insBase := filepath.Base(o.Captions), filepath.Base(o.Instances)
	for _, id := range ids {
		im := d.images[id]
		sid := strconv.FormatInt(id, 10)
		where := fmt.Sprintf("%s: image_id %d", insBase, id)
		b, ok := d.best[id]
		if !ok {
			c.skip(SkipNoObjects, where, sid, "no instance annotations")
			continue
		}
		cat, ok := d.cats[b.CategoryID]
		if !ok {
			c.skip(BadUnknownLabel, where, sid, fmt.Sprintf("annotation %d has category_id %d, not in categories", b.ID, b.CategoryID))
			continue
		}
		label := cat.Supercategory
		if o.UseCategory {
			label = cat.Name
		}
		caps := slices.Clone(d.captions[id])
		slices.SortFunc(caps, func(a, b cocoCaption) int { return cmpInt64(a.ID, b.ID) })
		texts := make([]string, 0, len(caps))
		for _, a := range caps {
			texts = append(texts, strings.TrimSpace(a.Caption))
		}
		if len(caps) == 0 {
			where = fmt.Sprintf("%s: image_id %d", capBase, id)
		}
		c.recs = append(c.recs, Record{
			ID: sid, Image: im.FileName, Texts: texts, Label: label, Group: sid, Origin: where,
			Attrs: map[string]string{"category": cat.Name, "supercategory": cat.Supercategory,
				"objects": strconv.Itoa(d.objects[id]), "file_name": im.FileName},
		})
	}
}

// betterInstance orders annotations: non-crowd first, then larger area, then lower id.
func betterInstance(a, b cocoInstance) bool {
	if (a.IsCrowd == 0) != (b.IsCrowd == 0) {
		return a.IsCrowd == 0
	}
	if a.Area != b.Area {
		return a.Area > b.Area
	}
	return a.ID < b.ID
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// streamObject reads a top-level JSON object key by key, handing the values of the named
// keys to their handlers and skipping the others, so large annotation files are never held
// as one value.
func streamObject(file string, o PrepareOptions, handlers map[string]func(*json.Decoder) error) error {
	f, err := openRegular(file)
	if err != nil {
		return err
	}
	defer f.Close()
	size := 0
	if st, err := f.Stat(); err == nil {
		size = int(st.Size())
	}
	bar := newProgress(o.Progress, o.Quiet, size, "reading "+filepath.Base(file))
	defer bar.finish()
	d := json.NewDecoder(bufio.NewReaderSize(&countingReader{r: f, bar: bar}, 1<<20))
	wrap := func(err error) error { return fmt.Errorf("%s: offset %d: %w", file, d.InputOffset(), err) }
	if err := expectDelim(d, '{'); err != nil {
		return wrap(fmt.Errorf("not a JSON object: %w", err))
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return wrap(err)
		}
		key, _ := t.(string)
		if h, ok := handlers[key]; ok {
			if err := h(d); err != nil {
				return wrap(fmt.Errorf("%q: %w", key, err))
			}
			continue
		}
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return wrap(err)
		}
	}
	if err := expectDelim(d, '}'); err != nil {
		return wrap(err)
	}
	return nil
}

// decodeArray decodes a JSON array element by element.
func decodeArray[T any](d *json.Decoder, fn func(T) error) error {
	if err := expectDelim(d, '['); err != nil {
		return err
	}
	for n := 0; d.More(); n++ {
		var v T
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("element %d: %w", n, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return expectDelim(d, ']')
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	t, err := d.Token()
	if err != nil {
		return err
	}
	if got, ok := t.(json.Delim); !ok || got != want {
		return fmt.Errorf("want %q, got %v", want, t)
	}
	return nil
}
