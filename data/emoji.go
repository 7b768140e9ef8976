package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// EmojiVendors are the image sets prepared by default (npm emoji-datasource-google and
// emoji-datasource-twitter, 64 px PNGs).
var EmojiVendors = []string{"google", "twitter"}

// EmojiOptions configures PrepareEmoji.
type EmojiOptions struct {
	PrepareOptions
	// Src is the node_modules folder holding emoji-datasource and the vendor packages
	// (scripts/fetch-emoji.sh installs them into .deps/emoji/node_modules).
	Src string
	// Vendors are the image styles to use (nil: EmojiVendors).
	Vendors []string
	// LabelField is "category" (default) or "subcategory".
	LabelField string
	// HoldoutVendor, when set, puts every image of that vendor into test and splits the
	// other vendors into train and val: an image-style-shift test (the test texts are those
	// of the train and val emoji, most of them seen in training).
	HoldoutVendor string
	// SkinTones adds the skin-tone variants (same text and group as the base emoji).
	SkinTones bool
	// ExcludeCategories drops whole categories (nil: "Component", the bare skin-tone
	// modifiers, which are not emoji of their own).
	ExcludeCategories []string
}

// emojiEntry is the part of an emoji.json entry that is used.
type emojiEntry struct {
	Name        string                  `json:"name"`
	Unified     string                  `json:"unified"`
	Image       string                  `json:"image"`
	ShortNames  []string                `json:"short_names"`
	Category    string                  `json:"category"`
	Subcategory string                  `json:"subcategory"`
	AddedIn     string                  `json:"added_in"`
	Skins       map[string]emojiVariant `json:"skin_variations"`
	hasImg      map[string]bool
}

type emojiVariant struct {
	Unified string `json:"unified"`
	Image   string `json:"image"`
	hasImg  map[string]bool
}

// UnmarshalJSON keeps the has_img_<vendor> flags, whose names depend on the vendor.
func (e *emojiEntry) UnmarshalJSON(b []byte) error {
	type plain emojiEntry
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	flags, err := hasImgFlags(b)
	if err != nil {
		return err
	}
	e.hasImg = flags
	var raw struct {
		Skins map[string]json.RawMessage `json:"skin_variations"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k, v := range raw.Skins {
		f, err := hasImgFlags(v)
		if err != nil {
			return err
		}
		sv := e.Skins[k]
		sv.hasImg = f
		e.Skins[k] = sv
	}
	return nil
}

func hasImgFlags(b []byte) (map[string]bool, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for k, v := range m {
		if vendor, ok := strings.CutPrefix(k, "has_img_"); ok {
			out[vendor] = string(v) == "true"
		}
	}
	return out, nil
}

// PrepareEmoji prepares the npm emoji-datasource packages: one record per emoji and vendor
// (and skin tone, with SkinTones), label = category or subcategory, text = the name plus the
// short names, vendor as an attribute. All records of one emoji share a group (its unified
// code), so the split never puts the same text in train and test.
func PrepareEmoji(o EmojiOptions) (*Card, error) {
	vendors, exclude, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("prepare emoji: %w", err)
	}
	root, err := filepath.Abs(o.Src)
	if err != nil {
		return nil, fmt.Errorf("prepare emoji: %w", err)
	}
	entries, metaFile, err := readEmoji(root, vendors)
	if err != nil {
		return nil, fmt.Errorf("prepare emoji: %w", err)
	}
	if err := o.checkInputs(metaFile); err != nil {
		return nil, fmt.Errorf("prepare emoji: %w", err)
	}
	c := &candidates{
		source: "emoji", imageRoot: root, labelField: o.LabelField,
		inputs: map[string]string{"src": o.Src, "emoji-datasource": npmVersion(filepath.Join(root, "emoji-datasource"))},
		options: map[string]string{"label": o.LabelField, "vendors": strings.Join(vendors, ","),
			"holdout_vendor": o.HoldoutVendor, "skin_tones": strconv.FormatBool(o.SkinTones),
			"exclude_categories": strings.Join(exclude, ",")},
		notes: []string{"split grouped by emoji (the unified code): every vendor style and skin tone of one emoji is in the same split, so no text is shared between splits"},
	}
	for _, v := range vendors {
		c.inputs["emoji-datasource-"+v] = npmVersion(filepath.Join(root, "emoji-datasource-"+v))
	}
	if o.HoldoutVendor != "" {
		c.holdout = func(r Record) bool { return r.Attrs["vendor"] == o.HoldoutVendor }
		c.notes = []string{fmt.Sprintf("vendor holdout: test holds every %s image; train and val hold the other vendors, split grouped by emoji. "+
			"The test texts are those of the train and val emoji, so most were seen in training: this measures the image style shift, not text generalisation", o.HoldoutVendor)}
	}
	base := filepath.Base(metaFile)
	for i, e := range entries {
		where := fmt.Sprintf("%s[%d]", base, i)
		if slices.Contains(exclude, e.Category) {
			c.skip(SkipExcluded, where, e.Unified, "category "+strconv.Quote(e.Category)+" is excluded")
			continue
		}
		addEmojiRecords(c, o, e, vendors, where)
	}
	return finish(c, o.PrepareOptions)
}

// resolve checks the options and fills in the defaults: it returns the vendors and the
// excluded categories, and sets LabelField.
func (o *EmojiOptions) resolve() (vendors, exclude []string, err error) {
	if o.Src == "" {
		return nil, nil, errors.New("no source folder (the node_modules folder that scripts/fetch-emoji.sh fills)")
	}
	if o.LabelField == "" {
		o.LabelField = "category"
	}
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	if o.LabelField != "category" && o.LabelField != "subcategory" {
		return nil, nil, fmt.Errorf("label field %q: use category or subcategory", o.LabelField)
	}
	vendors = o.Vendors
	if len(vendors) == 0 {
		vendors = EmojiVendors
	}
	if o.HoldoutVendor != "" && !slices.Contains(vendors, o.HoldoutVendor) {
		return nil, nil, fmt.Errorf("holdout vendor %q is not among the vendors %v", o.HoldoutVendor, vendors)
	}
	if o.HoldoutVendor != "" && len(vendors) < 2 {
		return nil, nil, errors.New("holding out a vendor needs at least two vendors")
	}
	exclude = o.ExcludeCategories
	if exclude == nil {
		exclude = []string{"Component"}
	}
	return vendors, exclude, nil
}

// readEmoji checks that every vendor's image folder is there and reads emoji.json.
func readEmoji(root string, vendors []string) ([]emojiEntry, string, error) {
	for _, v := range vendors {
		dir := filepath.Join(root, "emoji-datasource-"+v, "img", v, "64")
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, "", fmt.Errorf("no image folder %s: install the npm package emoji-datasource-%s (scripts/fetch-emoji.sh)", dir, v)
		}
	}
	metaFile := filepath.Join(root, "emoji-datasource", "emoji.json")
	b, err := readRegular(metaFile)
	if err != nil {
		return nil, "", fmt.Errorf("read metadata (npm package emoji-datasource, scripts/fetch-emoji.sh): %w", err)
	}
	var entries []emojiEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, "", fmt.Errorf("%s: %w", metaFile, err)
	}
	return entries, metaFile, nil
}

// addEmojiRecords adds the records of one emoji: per variant (the base, and the skin tones
// with SkinTones, in key order) and vendor.
func addEmojiRecords(c *candidates, o EmojiOptions, e emojiEntry, vendors []string, where string) {
	label := e.Category
	if o.LabelField == "subcategory" {
		label = e.Subcategory
	}
	text := emojiText(e)
	type variant struct{ key, unified, image string }
	vars := []variant{{"", e.Unified, e.Image}}
	flags := []map[string]bool{e.hasImg}
	if o.SkinTones {
		keys := make([]string, 0, len(e.Skins))
		for k := range e.Skins {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s := e.Skins[k]
			vars = append(vars, variant{k, s.Unified, s.Image})
			flags = append(flags, s.hasImg)
		}
	}
	for vi, va := range vars {
		for _, vendor := range vendors {
			id := vendor + "/" + va.unified
			if !flags[vi][vendor] {
				c.skip(SkipNoImage, where, id, "has_img_"+vendor+" is false")
				continue
			}
			attrs := map[string]string{"vendor": vendor, "unified": va.unified, "category": e.Category,
				"subcategory": e.Subcategory, "added_in": e.AddedIn}
			if va.key != "" {
				attrs["skin_tone"] = va.key
			}
			img := ""
			if va.image != "" {
				img = "emoji-datasource-" + vendor + "/img/" + vendor + "/64/" + va.image
			}
			c.recs = append(c.recs, Record{ID: id, Image: img, Texts: []string{text}, Label: label,
				Group: e.Unified, Attrs: attrs, Origin: where})
		}
	}
}

// emojiText is the lower-cased name followed by the short names, e.g.
// "father christmas. santa".
func emojiText(e emojiEntry) string {
	name := strings.ToLower(strings.TrimSpace(e.Name))
	var shorts []string
	for _, s := range e.ShortNames {
		s = strings.TrimSpace(strings.ReplaceAll(s, "_", " "))
		if s != "" && s != name && !slices.Contains(shorts, s) {
			shorts = append(shorts, s)
		}
	}
	if len(shorts) == 0 {
		return name
	}
	if name == "" {
		return strings.Join(shorts, ", ")
	}
	return name + ". " + strings.Join(shorts, ", ")
}

// npmVersion returns "name@version" from a package folder's package.json, or the folder.
func npmVersion(dir string) string {
	var p struct{ Name, Version string }
	if err := readJSON(filepath.Join(dir, "package.json"), &p); err != nil || p.Version == "" {
		return dir
	}
	return p.Name + "@" + p.Version
}
