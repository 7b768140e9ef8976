package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeEmojiFixture writes a fake node_modules tree shaped like the npm packages
// emoji-datasource (emoji.json) and emoji-datasource-{google,twitter} (img/<vendor>/64/*.png).
func writeEmojiFixture(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "node_modules")
	var entries []map[string]any
	add := func(unified, name, cat, sub string, twitter bool, skins map[string]any) {
		img := strings.ToLower(unified) + ".png"
		e := map[string]any{
			"name": strings.ToUpper(name), "unified": unified, "non_qualified": nil, "docomo": nil, "au": nil,
			"softbank": nil, "google": nil, "image": img, "sheet_x": 0, "sheet_y": 0,
			"short_name": strings.ReplaceAll(name, " ", "_"), "short_names": []string{strings.ReplaceAll(name, " ", "_"), "alias_" + unified},
			"text": nil, "texts": nil, "category": cat, "subcategory": sub, "sort_order": len(entries), "added_in": "1.0",
			"has_img_apple": true, "has_img_google": true, "has_img_twitter": twitter, "has_img_facebook": false,
		}
		if skins != nil {
			e["skin_variations"] = skins
		}
		entries = append(entries, e)
		for _, v := range []string{"google", "twitter"} {
			if v == "twitter" && !twitter {
				continue
			}
			writePNG(t, filepath.Join(root, "emoji-datasource-"+v, "img", v, "64", img), 8, 8, len(entries))
		}
	}
	for i := 0; i < 10; i++ {
		add(fmt.Sprintf("1F60%X", i), fmt.Sprintf("smiling face %d", i), "Smileys & Emotion", "face-smiling", true, nil)
		add(fmt.Sprintf("1F41%X", i), fmt.Sprintf("animal %d", i), "Animals & Nature", []string{"animal-mammal", "animal-bird"}[i%2], true, nil)
	}
	add("1F3FB", "emoji modifier fitzpatrick type-1-2", "Component", "skin-tone", true, nil)
	add("1F600-NOTW", "no twitter", "Smileys & Emotion", "face-smiling", false, nil)
	skins := map[string]any{}
	for _, tone := range []string{"1F3FB", "1F3FC"} {
		u := "1F44B-" + tone
		skins[tone] = map[string]any{"unified": u, "non_qualified": nil, "image": strings.ToLower(u) + ".png",
			"sheet_x": 1, "sheet_y": 1, "added_in": "1.0", "has_img_apple": true, "has_img_google": true,
			"has_img_twitter": tone == "1F3FB", "has_img_facebook": true}
		for _, v := range []string{"google", "twitter"} {
			writePNG(t, filepath.Join(root, "emoji-datasource-"+v, "img", v, "64", strings.ToLower(u)+".png"), 8, 8, 99)
		}
	}
	add("1F44B", "waving hand", "People & Body", "hand-fingers-open", true, skins)
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "emoji-datasource", "emoji.json"), b)
	for _, p := range []string{"emoji-datasource", "emoji-datasource-google", "emoji-datasource-twitter"} {
		writeFile(t, filepath.Join(root, p, "package.json"), []byte(`{"name": "`+p+`", "version": "16.0.0"}`))
	}
	return root
}

func TestPrepareEmoji(t *testing.T) {
	src := writeEmojiFixture(t)
	out := filepath.Join(t.TempDir(), "emoji")
	tests := []struct {
		name     string
		opts     EmojiOptions
		records  int
		classes  int
		skipped  map[Kind]int
		holdout  string
		skinRecs int
	}{
		{"category", EmojiOptions{}, 43, 3, map[Kind]int{SkipExcluded: 1, SkipNoImage: 1}, "", 0},
		{"subcategory", EmojiOptions{LabelField: "subcategory"}, 43, 4, map[Kind]int{SkipExcluded: 1, SkipNoImage: 1}, "", 0},
		{"skin tones", EmojiOptions{SkinTones: true}, 46, 3, map[Kind]int{SkipExcluded: 1, SkipNoImage: 2}, "", 3},
		{"keep component", EmojiOptions{ExcludeCategories: []string{}}, 45, 4, map[Kind]int{SkipNoImage: 1}, "", 0},
		{"holdout twitter", EmojiOptions{HoldoutVendor: "twitter"}, 43, 3, map[Kind]int{SkipExcluded: 1, SkipNoImage: 1}, "twitter", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.PrepareOptions = quietOptions(out)
			o.Src = src
			card, err := PrepareEmoji(o)
			if err != nil {
				t.Fatal(err)
			}
			if card.Records != tc.records || card.Classes != tc.classes || fmt.Sprint(card.Skipped) != fmt.Sprint(tc.skipped) {
				t.Fatalf("records %d classes %d skipped %v; want %d %d %v", card.Records, card.Classes, card.Skipped,
					tc.records, tc.classes, tc.skipped)
			}
			if card.Inputs["emoji-datasource-google"] != "emoji-datasource-google@16.0.0" {
				t.Errorf("inputs %v", card.Inputs)
			}
			p, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			// No emoji (group) and so no text in two splits.
			splitOf := map[string]string{}
			textSplit := map[string]string{}
			skins := 0
			for _, s := range SplitNames {
				for _, r := range p.Split(s) {
					if r.Attrs["skin_tone"] != "" {
						skins++
					}
					if tc.holdout != "" {
						if (r.Attrs["vendor"] == tc.holdout) != (s == Test) {
							t.Errorf("holdout: %s in %s", r.ID, s)
						}
						continue
					}
					if prev, ok := splitOf[r.Group]; ok && prev != s {
						t.Errorf("emoji %s in %s and %s", r.Group, prev, s)
					}
					splitOf[r.Group] = s
					if prev, ok := textSplit[r.Texts[0]]; ok && prev != s {
						t.Errorf("text %q in %s and %s", r.Texts[0], prev, s)
					}
					textSplit[r.Texts[0]] = s
				}
			}
			if skins != tc.skinRecs {
				t.Errorf("%d skin-tone records, want %d", skins, tc.skinRecs)
			}
			if tc.holdout != "" && !strings.Contains(strings.Join(card.Notes, " "), "style shift") {
				t.Errorf("holdout note missing: %v", card.Notes)
			}
		})
	}
	p, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var wave Record
	for _, r := range p.Records {
		if r.ID == "google/1F44B" {
			wave = r
		}
	}
	if wave.Texts[0] != "waving hand. alias 1F44B" || wave.Label != "People & Body" || wave.Attrs["vendor"] != "google" ||
		wave.Group != "1F44B" || !strings.HasSuffix(wave.Image, filepath.FromSlash("emoji-datasource-google/img/google/64/1f44b.png")) {
		t.Errorf("wave %+v", wave)
	}

	// Preparing again gives byte-identical files.
	again := filepath.Join(t.TempDir(), "again")
	o := EmojiOptions{PrepareOptions: quietOptions(again), Src: src, HoldoutVendor: "twitter"}
	if _, err := PrepareEmoji(o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ManifestFile, LabelsFile, "splits/train.txt", "splits/val.txt", "splits/test.txt", CardMDFile} {
		a, errA := os.ReadFile(filepath.Join(out, f))
		b, errB := os.ReadFile(filepath.Join(again, f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two prepares (%v, %v)", f, errA, errB)
		}
	}

	for _, bad := range []EmojiOptions{{LabelField: "name"}, {HoldoutVendor: "apple"}, {Vendors: []string{"apple"}}, {Vendors: []string{"google"}, HoldoutVendor: "google"}} {
		bad.PrepareOptions = quietOptions(out)
		bad.Src = src
		if _, err := PrepareEmoji(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
