package pretrained

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHub mimics the Hugging Face hub's URL layout and headers: small files
// are served from /{repo}/resolve/{rev}/{file} with their git blob sha1 as
// ETag; LFS files answer with X-Linked-Etag (sha256), X-Linked-Size and a
// redirect to a separate CDN server, which honours Range requests.
type fakeHub struct {
	hub, cdn *httptest.Server
	commit   string
	files    map[string][]byte // repo file -> content
	lfs      map[string]bool
	badHash  map[string]bool // announce a wrong hash
	renamed  map[string]string

	mu            sync.Mutex
	interruptOnce map[string]bool // cut the first CDN GET of these files
	ranges        []string        // Range headers the CDN saw
	cdnGets       int
	auth          map[string]string // host kind -> last Authorization
}

func gitSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newFakeHub(t *testing.T) *fakeHub {
	f := &fakeHub{
		commit:        strings.Repeat("ab12", 10),
		files:         map[string][]byte{},
		lfs:           map[string]bool{},
		badHash:       map[string]bool{},
		renamed:       map[string]string{"old-org/model": "org/model"},
		interruptOnce: map[string]bool{},
		auth:          map[string]string{},
	}
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	t.Cleanup(func() { f.hub.Close(); f.cdn.Close() })
	return f
}

func (f *fakeHub) etag(name string) string {
	b := f.files[name]
	if f.lfs[name] {
		if f.badHash[name] {
			return sha256Hex(append(b, 'x'))
		}
		return sha256Hex(b)
	}
	if f.badHash[name] {
		return gitSHA1(append(b, 'x'))
	}
	return gitSHA1(b)
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.auth["hub"] = r.Header.Get("Authorization")
	f.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(p, "api/models/"); ok {
		repo, rev, _ := strings.Cut(rest, "/revision/")
		if repo != "org/model" || (rev != "main" && rev != f.commit) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var sib []map[string]any
		for _, n := range sortedKeys(f.files) {
			sib = append(sib, map[string]any{"rfilename": n})
		}
		json.NewEncoder(w).Encode(map[string]any{"id": repo, "sha": f.commit, "siblings": sib})
		return
	}
	parts := strings.SplitN(p, "/", 5) // org, name, resolve, rev, file
	if len(parts) != 5 || parts[2] != "resolve" {
		http.Error(w, "bad path", http.StatusNotFound)
		return
	}
	repo, rev, file := parts[0]+"/"+parts[1], parts[3], parts[4]
	if to, ok := f.renamed[repo]; ok { // relative redirect, as for a renamed repo
		http.Redirect(w, r, "/"+to+"/resolve/"+rev+"/"+file, http.StatusTemporaryRedirect)
		return
	}
	content, ok := f.files[file]
	if repo != "org/model" || !ok || (rev != "main" && rev != f.commit) {
		w.Header().Set("X-Error-Message", "Entry not found")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", f.commit)
	if f.lfs[file] {
		w.Header().Set("X-Linked-Etag", `"`+f.etag(file)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(content)))
		w.Header().Set("ETag", `"`+gitSHA1([]byte("pointer"))+`"`)
		http.Redirect(w, r, f.cdn.URL+"/blobs/"+file, http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.etag(file)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	if r.Method == http.MethodGet {
		w.Write(content)
	}
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	file := strings.TrimPrefix(r.URL.Path, "/blobs/")
	content, ok := f.files[file]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.auth["cdn"] = r.Header.Get("Authorization")
	f.cdnGets++
	rng := r.Header.Get("Range")
	if rng != "" {
		f.ranges = append(f.ranges, rng)
	}
	cut := f.interruptOnce[file]
	f.interruptOnce[file] = false
	f.mu.Unlock()
	start := 0
	if rng != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil || n > len(content) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(content)-1, len(content)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(content)-start))
	if rng != "" {
		w.WriteHeader(http.StatusPartialContent)
	}
	if cut {
		// Send half of the file, then drop the connection.
		w.Write(content[start : start+(len(content)-start)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Write(content[start:])
}

func (f *fakeHub) client(cache string) *Hub {
	return &Hub{Endpoint: f.hub.URL, CacheDir: cache}
}

func modelFiles(f *fakeHub) {
	weights := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	st := rawFile(`{"w":{"dtype":"U8","shape":[65536],"data_offsets":[0,65536]}}`, weights)
	f.files["config.json"] = []byte(`{"model_type":"bert","hidden_size":4}`)
	f.files["model.safetensors"] = st
	f.files["pytorch_model.bin"] = []byte("old weights, not wanted")
	f.files["tokenizer.json"] = []byte(`{}`)
	f.files["vocab.txt"] = []byte("[PAD]\n[UNK]\n")
	f.files["README.md"] = []byte("# model")
	f.files["1_Pooling/config.json"] = []byte(`{"pooling_mode_mean_tokens":true}`)
	f.lfs["model.safetensors"] = true
	f.lfs["pytorch_model.bin"] = true
}

func TestHubDownloadResumesAndWorksOffline(t *testing.T) {
	f := newFakeHub(t)
	modelFiles(f)
	f.interruptOnce["model.safetensors"] = true
	cache := t.TempDir()
	h := f.client(cache)
	h.Token = "secret"
	ctx := context.Background()

	// 1. The weights download is cut half way: an error, a partial blob.
	_, err := h.Download(ctx, "org/model", DownloadOptions{})
	if err == nil || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("interrupted download: %v", err)
	}
	blob := filepath.Join(h.RepoFolder("org/model"), "blobs", sha256Hex(f.files["model.safetensors"]))
	st, err := os.Stat(blob + ".incomplete")
	if err != nil || st.Size() == 0 || st.Size() >= int64(len(f.files["model.safetensors"])) {
		t.Fatalf("partial download: %v %v", st, err)
	}

	// 2. Running again resumes from where it stopped.
	snap, err := h.Download(ctx, "org/model", DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("bytes=%d-", st.Size()); !reflect.DeepEqual(f.ranges, []string{want}) {
		t.Fatalf("Range requests %v, want [%s]", f.ranges, want)
	}
	if snap != filepath.Join(h.RepoFolder("org/model"), "snapshots", f.commit) {
		t.Fatalf("snapshot %s", snap)
	}
	var got []string
	filepath.Walk(snap, func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() {
			rel, _ := filepath.Rel(snap, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	want := []string{"1_Pooling/config.json", "config.json", "model.safetensors", "tokenizer.json", "vocab.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot files %v, want %v", got, want)
	}
	for _, name := range want {
		p := filepath.Join(snap, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, f.files[name]) {
			t.Fatalf("%s: content differs (%v)", name, err)
		}
		link, err := os.Readlink(p)
		if err != nil || filepath.Base(link) != f.etag(name) || !strings.HasPrefix(link, "..") {
			t.Fatalf("%s: symlink %q (%v)", name, link, err)
		}
	}
	if ref, _ := os.ReadFile(filepath.Join(h.RepoFolder("org/model"), "refs", "main")); string(ref) != f.commit {
		t.Fatalf("refs/main = %q", ref)
	}
	if f.auth["hub"] != "Bearer secret" || f.auth["cdn"] != "" {
		t.Fatalf("authorization: hub %q, cdn %q (the token must not leave the hub)", f.auth["hub"], f.auth["cdn"])
	}
	// The snapshot is a model folder.
	src, folder, err := OpenFolderWeights(snap)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if folder.Config.ModelType() != "bert" {
		t.Fatalf("config %v", folder.Config.Values)
	}

	// 3. A second download fetches nothing.
	gets := f.cdnGets
	if _, err := h.Download(ctx, "org/model", DownloadOptions{}); err != nil || f.cdnGets != gets {
		t.Fatalf("cached download: %v, %d new CDN requests", err, f.cdnGets-gets)
	}

	// 4. Offline, everything comes from the cache.
	f.hub.Close()
	f.cdn.Close()
	h.Offline = true
	if s2, err := h.Download(ctx, "org/model", DownloadOptions{}); err != nil || s2 != snap {
		t.Fatalf("offline download: %q, %v", s2, err)
	}
	if p, err := h.DownloadFile(ctx, "org/model", "main", "vocab.txt"); err != nil || !strings.HasPrefix(p, snap) {
		t.Fatalf("offline file: %q, %v", p, err)
	}
	if _, err := h.DownloadFile(ctx, "org/model", "main", "README.md"); err == nil {
		t.Fatal("offline, a file that was never downloaded: want an error")
	}
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	for _, name := range []string{"org/model", "org/model@main", "org/model@" + f.commit} {
		if p, err := Resolve(name); err != nil || p != snap {
			t.Errorf("Resolve(%q) = %q, %v", name, p, err)
		}
	}
	if p, err := Resolve(snap); err != nil || p != snap {
		t.Errorf("Resolve(folder) = %q, %v", p, err)
	}
	for _, name := range []string{"org/other", "../etc", "a/b/c"} {
		if _, err := Resolve(name); err == nil {
			t.Errorf("Resolve(%q): want an error", name)
		}
	}
}

func TestHubVerifiesChecksums(t *testing.T) {
	for _, lfs := range []bool{true, false} {
		f := newFakeHub(t)
		f.files["weights.bin"] = []byte("some bytes")
		f.lfs["weights.bin"] = lfs
		f.badHash["weights.bin"] = true
		h := f.client(t.TempDir())
		_, err := h.DownloadFile(context.Background(), "org/model", "main", "weights.bin")
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Fatalf("lfs=%v: %v", lfs, err)
		}
		left, _ := filepath.Glob(filepath.Join(h.RepoFolder("org/model"), "blobs", "*"))
		if len(left) != 0 {
			t.Fatalf("lfs=%v: a bad download was kept: %v", lfs, left)
		}
	}
}

func TestHubRedirectsAndErrors(t *testing.T) {
	f := newFakeHub(t)
	modelFiles(f)
	h := f.client(t.TempDir())
	ctx := context.Background()
	// A renamed repository answers with a relative redirect.
	p, err := h.DownloadFile(ctx, "old-org/model", "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, f.files["config.json"]) {
		t.Fatalf("content %q", b)
	}
	// A pinned commit already in the cache needs no request.
	f.hub.Close()
	if _, err := h.DownloadFile(ctx, "old-org/model", f.commit, "config.json"); err != nil {
		t.Fatalf("pinned commit from cache: %v", err)
	}

	f2 := newFakeHub(t)
	modelFiles(f2)
	h2 := f2.client(t.TempDir())
	for _, c := range []struct {
		repo, rev, file, want string
	}{
		{"org/model", "main", "missing.json", "404"},
		{"org/nope", "main", "config.json", "404"},
		{"org/../x", "main", "config.json", "invalid repository id"},
		{"org/model", "main", "../x", "invalid file name"},
	} {
		if _, err := h2.DownloadFile(ctx, c.repo, c.rev, c.file); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s %s: %v, want %q", c.repo, c.rev, c.file, err, c.want)
		}
	}
	if _, err := h2.Download(ctx, "org/nope", DownloadOptions{}); err == nil {
		t.Error("unknown repository: want an error")
	}
	// An endpoint that is not a hub (no X-Repo-Commit).
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	defer plain.Close()
	h3 := &Hub{Endpoint: plain.URL, CacheDir: t.TempDir()}
	if _, err := h3.DownloadFile(ctx, "org/model", "main", "config.json"); err == nil || !strings.Contains(err.Error(), "X-Repo-Commit") {
		t.Errorf("not a hub: %v", err)
	}
}

func TestHubShardedDownload(t *testing.T) {
	f := newFakeHub(t)
	f.files["config.json"] = []byte(`{}`)
	f.files["model-00001-of-00002.safetensors"] = rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1})
	f.files["model-00002-of-00002.safetensors"] = rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{2})
	f.files["model.safetensors.index.json"] = []byte(`{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`)
	f.lfs["model-00001-of-00002.safetensors"] = true
	f.lfs["model-00002-of-00002.safetensors"] = true
	h := f.client(t.TempDir())
	snap, err := h.Download(context.Background(), "org/model", DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, _, err := OpenFolderWeights(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if !reflect.DeepEqual(src.Names(), []string{"a", "b"}) {
		t.Fatalf("names %v", src.Names())
	}
}

func TestSelectFiles(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		opts  DownloadOptions
		want  []string
	}{
		{"safetensors preferred", []string{"README.md", "config.json", "pytorch_model.bin", "model.safetensors", "vocab.txt"}, DownloadOptions{},
			[]string{"config.json", "vocab.txt", "model.safetensors"}},
		{"bin only", []string{"config.json", "pytorch_model.bin", "tf_model.h5"}, DownloadOptions{},
			[]string{"config.json", "pytorch_model.bin"}},
		{"sharded", []string{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"}, DownloadOptions{},
			[]string{"config.json", "model.safetensors.index.json"}},
		{"include", []string{"config.json", "README.md", "onnx/model.onnx"}, DownloadOptions{Include: []string{"*.md", "onnx/*"}},
			[]string{"config.json", "README.md", "onnx/model.onnx"}},
		{"all", []string{"b", "a"}, DownloadOptions{All: true}, []string{"a", "b"}},
	} {
		if got := SelectFiles(c.files, c.opts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestDefaultCacheDir(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/a", "HF_HOME": "/b"}, "/a"},
		{map[string]string{"HF_HOME": "/b", "XDG_CACHE_HOME": "/c"}, "/b/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/c"}, "/c/huggingface/hub"},
	} {
		for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
			t.Setenv(k, c.env[k])
		}
		if got := DefaultCacheDir(); got != c.want {
			t.Errorf("%v: %s, want %s", c.env, got, c.want)
		}
	}
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("HF_HUB_OFFLINE", "1")
	if h := NewHub(); h.Endpoint != "https://mirror.example" || !h.Offline {
		t.Errorf("NewHub: %+v", h)
	}
}

// TestHubCacheInteroperatesWithHuggingFaceHub has huggingface_hub download
// from the fake hub into one cache, which Resolve must find, and reads our
// cache with huggingface_hub in offline mode.
func TestHubCacheInteroperatesWithHuggingFaceHub(t *testing.T) {
	f := newFakeHub(t)
	modelFiles(f)
	files := []string{"config.json", "model.safetensors", "vocab.txt", "1_Pooling/config.json"}

	// Python downloads; Go resolves from that cache.
	pyCache := t.TempDir()
	var pyPaths []string
	out := runPython(t, "hf-hub-interop.py", append([]string{"download", f.hub.URL, pyCache, "org/model"}, files...)...)
	if err := json.Unmarshal(out, &pyPaths); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Setenv("HF_HUB_CACHE", pyCache)
	snap, err := Resolve("org/model")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range files {
		if want := filepath.Join(snap, filepath.FromSlash(name)); pyPaths[i] != want {
			t.Errorf("huggingface_hub put %s at %s; we look at %s", name, pyPaths[i], want)
		}
	}

	// Go downloads; Python reads offline.
	goCache := t.TempDir()
	h := f.client(goCache)
	goSnap, err := h.Download(context.Background(), "org/model", DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out = runPython(t, "hf-hub-interop.py", append([]string{"cached", goCache, "org/model"}, files...)...)
	if err := json.Unmarshal(out, &pyPaths); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, name := range files {
		if want := filepath.Join(goSnap, filepath.FromSlash(name)); pyPaths[i] != want {
			t.Errorf("huggingface_hub found %s at %s, want %s", name, pyPaths[i], want)
		}
	}
}
