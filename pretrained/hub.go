package pretrained

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// DefaultEndpoint is the Hugging Face hub; the HF_ENDPOINT environment
// variable overrides it.
const DefaultEndpoint = "https://huggingface.co"

// Hub downloads model repositories from a Hugging Face compatible hub into
// the standard Hugging Face cache, which transformers and huggingface_hub
// share:
//
//	<cache>/models--<org>--<name>/blobs/<etag>
//	<cache>/models--<org>--<name>/refs/<revision>          (commit hash)
//	<cache>/models--<org>--<name>/snapshots/<commit>/<file> -> ../../blobs/<etag>
//
// It asks for files at {endpoint}/{repo}/resolve/{revision}/{file} and lists
// them with {endpoint}/api/models/{repo}/revision/{revision}, reading the
// X-Repo-Commit, X-Linked-Etag / ETag, X-Linked-Size / Content-Length and
// Location headers of a HEAD request the way huggingface_hub does. Partial
// downloads are kept as blobs/<etag>.incomplete and resumed with a Range
// request; every download is checked against the announced size and hash
// (the sha256 of LFS files, the git blob sha1 of small files). Concurrent
// downloads of one file (also by huggingface_hub) are serialised with the
// lock files of <cache>/.locks.
type Hub struct {
	// Endpoint is the hub's base URL.
	Endpoint string
	// CacheDir is the hub cache folder.
	CacheDir string
	// Token, when set, is sent as a bearer token (to the hub only, not to
	// the CDN it redirects to).
	Token string
	// Offline serves everything from the cache and never uses the network.
	Offline bool
	// Client makes the requests; nil means a client with a 30 s connection
	// and header timeout.
	Client *http.Client
	// Progress receives a progress bar per downloaded file (nil: none).
	Progress io.Writer
}

// NewHub configures a Hub from the environment: HF_ENDPOINT, HF_TOKEN (or
// HUGGING_FACE_HUB_TOKEN), HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) and the
// cache location (see DefaultCacheDir).
func NewHub() *Hub {
	h := &Hub{
		Endpoint: strings.TrimRight(envOr("HF_ENDPOINT", DefaultEndpoint), "/"),
		CacheDir: DefaultCacheDir(),
		Token:    envOr("HF_TOKEN", os.Getenv("HUGGING_FACE_HUB_TOKEN")),
		Offline:  envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
	}
	return h
}

// DefaultCacheDir is the hub cache folder huggingface_hub uses: HF_HUB_CACHE,
// else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
func DefaultCacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HUGGINGFACE_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "huggingface", "hub")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envTrue(k string) bool {
	switch strings.ToUpper(os.Getenv(k)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

var errOffline = errors.New("offline mode (HF_HUB_OFFLINE) and not in the cache")

// ValidRepoID reports whether s looks like a hub repository id ("name" or
// "org/name"): each part starts with an ASCII letter or digit and holds only
// letters, digits, '.', '_' and '-'; no "..", no final '.', at most 96 bytes.
func ValidRepoID(s string) bool {
	if len(s) > 96 || strings.Contains(s, "..") || strings.HasSuffix(s, ".") {
		return false
	}
	parts := strings.Split(s, "/")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || !isAlnum(p[0]) {
			return false
		}
		for i := 1; i < len(p); i++ {
			if c := p[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
	}
	return true
}

func isCommit(s string) bool { return isLowerHex(s, 40) }

func isSHA256(s string) bool { return isLowerHex(s, 64) }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isLowerHex reports whether s is exactly n lower-case hexadecimal digits
// (40 for a git commit or blob sha1, 64 for a sha256).
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// RepoFolder is the cache folder of a model repository.
func (h *Hub) RepoFolder(repoID string) string {
	return filepath.Join(h.CacheDir, "models--"+strings.ReplaceAll(repoID, "/", "--"))
}

func (h *Hub) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		ResponseHeaderTimeout: 30 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
	}}
}

// validFileName rejects repository file names that could escape the cache.
func validFileName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

func escapeFile(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (h *Hub) resolveURL(repoID, revision, file string) string {
	return fmt.Sprintf("%s/%s/resolve/%s/%s", h.Endpoint, repoID, url.PathEscape(revision), escapeFile(file))
}

// FileMeta is what the hub announces about one file.
type FileMeta struct {
	Commit string // X-Repo-Commit
	ETag   string // X-Linked-Etag or ETag, without quotes
	Size   int64  // X-Linked-Size or Content-Length; -1 when unknown
	URL    string // where to GET it (after redirects that HEAD did not follow)
}

// HeadFile asks the hub about one file without downloading it. Relative
// redirects (a renamed repository) are followed; an absolute one (a CDN) is
// returned as URL.
func (h *Hub) HeadFile(ctx context.Context, repoID, revision, file string) (*FileMeta, error) {
	if h.Offline {
		return nil, errOffline
	}
	u := h.resolveURL(repoID, revision, file)
	for hops := 0; ; hops++ {
		if hops > 10 {
			return nil, fmt.Errorf("hub %s: too many redirects", u)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept-Encoding", "identity")
		h.authorize(req)
		c := *h.client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			loc := resp.Header.Get("Location")
			target, err := url.Parse(loc)
			if loc == "" || err != nil {
				return nil, fmt.Errorf("hub %s: redirect without a usable Location", u)
			}
			if target.Host == "" { // relative: follow it, as huggingface_hub does
				base, _ := url.Parse(u)
				u = base.ResolveReference(target).String()
				continue
			}
			return h.meta(resp, u, target.String())
		}
		if resp.StatusCode != http.StatusOK {
			return nil, hubStatusError(u, resp)
		}
		return h.meta(resp, u, u)
	}
}

func (h *Hub) meta(resp *http.Response, u, target string) (*FileMeta, error) {
	m := &FileMeta{Commit: resp.Header.Get("X-Repo-Commit"), URL: target, Size: -1}
	etag := resp.Header.Get("X-Linked-Etag")
	if etag == "" {
		etag = resp.Header.Get("ETag")
	}
	m.ETag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	size := resp.Header.Get("X-Linked-Size")
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	if n, err := strconv.ParseInt(size, 10, 64); err == nil {
		m.Size = n
	}
	switch {
	case m.Commit == "":
		return nil, fmt.Errorf("hub %s: no X-Repo-Commit header (is the endpoint a Hugging Face hub?)", u)
	case m.ETag == "" || strings.ContainsAny(m.ETag, `/\`) || m.ETag == "." || m.ETag == "..":
		return nil, fmt.Errorf("hub %s: missing or unusable ETag %q", u, m.ETag)
	}
	return m, nil
}

func hubStatusError(u string, resp *http.Response) error {
	msg := resp.Header.Get("X-Error-Message")
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("hub %s: %s (private or gated repository? set HF_TOKEN) %s", u, resp.Status, msg)
	case http.StatusNotFound:
		return fmt.Errorf("hub %s: %s: no such repository, revision or file %s", u, resp.Status, msg)
	}
	return fmt.Errorf("hub %s: %s %s", u, resp.Status, msg)
}

func (h *Hub) authorize(req *http.Request) {
	if h.Token == "" {
		return
	}
	if ep, err := url.Parse(h.Endpoint); err == nil && ep.Host == req.URL.Host {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
}

// DownloadFile fetches one file of a repository at a revision (branch, tag
// or commit) into the cache and returns its snapshot path. A file already
// in the cache is not downloaded again; offline, the cache is all there is.
func (h *Hub) DownloadFile(ctx context.Context, repoID, revision, file string) (string, error) {
	if !ValidRepoID(repoID) {
		return "", fmt.Errorf("hub: invalid repository id %q", repoID)
	}
	if !validFileName(file) {
		return "", fmt.Errorf("hub %s: invalid file name %q", repoID, file)
	}
	if revision == "" {
		revision = "main"
	}
	repo := h.RepoFolder(repoID)
	if isCommit(revision) {
		if p := filepath.Join(repo, "snapshots", revision, filepath.FromSlash(file)); fileExists(p) {
			return p, nil
		}
	}
	if h.Offline {
		p, err := h.CachedFile(repoID, revision, file)
		if err != nil {
			return "", fmt.Errorf("hub %s@%s: %s: %w", repoID, revision, file, errOffline)
		}
		return p, nil
	}
	m, err := h.HeadFile(ctx, repoID, revision, file)
	if err != nil {
		return "", err
	}
	if !isCommit(m.Commit) {
		return "", fmt.Errorf("hub %s: X-Repo-Commit %q is not a commit hash", repoID, m.Commit)
	}
	if err := h.writeRef(repo, revision, m.Commit); err != nil {
		return "", err
	}
	pointer := filepath.Join(repo, "snapshots", m.Commit, filepath.FromSlash(file))
	if fileExists(pointer) {
		return pointer, nil
	}
	blob := filepath.Join(repo, "blobs", m.ETag)
	// One download of a blob at a time, across processes (the lock file is
	// the one huggingface_hub uses, so Python downloads wait too).
	unlock, err := lockFile(filepath.Join(h.CacheDir, ".locks", filepath.Base(repo), m.ETag+".lock"))
	if err != nil {
		return "", fmt.Errorf("hub %s: %s: lock: %w", repoID, file, err)
	}
	defer unlock()
	if !fileExists(blob) {
		if err := h.fetchBlob(ctx, m, blob, file); err != nil {
			return "", fmt.Errorf("hub %s: %s: %w", repoID, file, err)
		}
	}
	if err := linkPointer(blob, pointer); err != nil {
		return "", fmt.Errorf("hub %s: %s: %w", repoID, file, err)
	}
	return pointer, nil
}

func (h *Hub) writeRef(repo, revision, commit string) error {
	if revision == commit {
		return nil
	}
	if !validFileName(revision) {
		return fmt.Errorf("hub: invalid revision %q", revision)
	}
	ref := filepath.Join(repo, "refs", filepath.FromSlash(revision))
	if b, err := os.ReadFile(ref); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		return err
	}
	return writeAtomic(ref, func(w io.Writer) error {
		_, err := io.WriteString(w, commit)
		return err
	})
}

// linkPointer makes the snapshot entry a relative symlink to its blob (a
// copy where symlinks are not possible).
func linkPointer(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	tmp := pointer + ".tmp-link"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err == nil {
		return os.Rename(tmp, pointer)
	}
	return writeAtomic(pointer, func(w io.Writer) error {
		f, err := os.Open(blob)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
}

// fetchBlob downloads a file into blob, resuming blob+".incomplete".
func (h *Hub) fetchBlob(ctx context.Context, m *FileMeta, blob, display string) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	partial := blob + ".incomplete"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if m.Size >= 0 && have > m.Size {
		have = 0 // longer than the file: start again
	}
	resp, have, err := h.getFrom(ctx, m, have)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := f.Truncate(have); err != nil {
		return err
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		w, done := h.progressWriter(f, m.Size, have, display)
		_, err := io.Copy(w, resp.Body)
		done()
		if err != nil {
			return fmt.Errorf("download interrupted (%w); run again to resume", err)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := verifyBlob(f, m); err != nil {
		f.Close()
		os.Remove(partial)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(partial, blob)
}

// getFrom asks for the file from byte have on (a Range request when have >
// 0) and returns the response and the offset its body starts at: have, or 0
// when the server sent the whole file. A 416 answer for a complete file is
// returned as is (nothing to read).
func (h *Hub) getFrom(ctx context.Context, m *FileMeta, have int64) (*http.Response, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return nil, 0, err
	}
	h.authorize(req)
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start := rangeStart(resp.Header.Get("Content-Range")); start != have {
			resp.Body.Close()
			return nil, 0, fmt.Errorf("resume: server answered range %q for a request from byte %d", resp.Header.Get("Content-Range"), have)
		}
	case resp.StatusCode == http.StatusOK:
		have = 0 // the server ignored the range: start again
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && m.Size >= 0 && have == m.Size:
		// Already complete.
	default:
		defer resp.Body.Close()
		return nil, 0, hubStatusError(m.URL, resp)
	}
	return resp, have, nil
}

// progressWriter wraps w with a progress bar on h.Progress (when set) that
// starts at have of size bytes; done finishes the bar.
func (h *Hub) progressWriter(w io.Writer, size, have int64, display string) (io.Writer, func()) {
	if h.Progress == nil {
		return w, func() {}
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(h.Progress),
		progressbar.OptionSetDescription(shortName(display)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(h.Progress) }),
	)
	_ = bar.Set64(have)
	return io.MultiWriter(w, bar), func() { _ = bar.Finish() }
}

func shortName(s string) string {
	if len(s) > 28 {
		return "…" + s[len(s)-27:]
	}
	return s
}

// rangeStart parses the first byte of "bytes a-b/n".
func rangeStart(cr string) int64 {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	a, _, _ := strings.Cut(s, "-")
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// verifyBlob checks a downloaded file's size and, where the ETag is a
// content hash, its hash: sha256 for LFS files (64 hex digits), the git blob
// sha1 for files stored in git (40 hex digits).
func verifyBlob(f *os.File, m *FileMeta) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if m.Size >= 0 && st.Size() != m.Size {
		return fmt.Errorf("downloaded %d bytes, the hub announced %d", st.Size(), m.Size)
	}
	var hh hash.Hash
	switch {
	case isSHA256(m.ETag):
		hh = sha256.New()
	case isCommit(m.ETag):
		hh = sha1.New()
		fmt.Fprintf(hh, "blob %d\x00", st.Size())
	default:
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(hh, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(hh.Sum(nil)); got != m.ETag {
		return fmt.Errorf("checksum mismatch: got %s, the hub announced %s (download removed)", got, m.ETag)
	}
	return nil
}

// RepoFile is one file of a repository listing.
type RepoFile struct {
	Name string `json:"rfilename"`
	Size int64  `json:"size"`
}

// ListFiles lists a repository's files at a revision and returns the commit
// it resolved to.
func (h *Hub) ListFiles(ctx context.Context, repoID, revision string) (commit string, files []RepoFile, err error) {
	if h.Offline {
		return "", nil, errOffline
	}
	if !ValidRepoID(repoID) {
		return "", nil, fmt.Errorf("hub: invalid repository id %q", repoID)
	}
	if revision == "" {
		revision = "main"
	}
	u := fmt.Sprintf("%s/api/models/%s/revision/%s", h.Endpoint, repoID, url.PathEscape(revision))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", nil, err
	}
	h.authorize(req)
	resp, err := h.client().Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("hub: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, hubStatusError(u, resp)
	}
	var info struct {
		SHA      string     `json:"sha"`
		Siblings []RepoFile `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return "", nil, fmt.Errorf("hub %s: %w", u, err)
	}
	for _, f := range info.Siblings {
		if !validFileName(f.Name) {
			return "", nil, fmt.Errorf("hub %s: invalid file name %q in the listing", u, f.Name)
		}
	}
	return info.SHA, info.Siblings, nil
}

// DownloadOptions selects what Download fetches.
type DownloadOptions struct {
	// Revision is a branch, tag or commit; "" means "main".
	Revision string
	// Include adds files matching these path.Match patterns (for example
	// "*.md" or "1_Pooling/*") to the default selection.
	Include []string
	// All downloads every file of the repository.
	All bool
}

// metadataFiles are the small files Download always takes when present.
var metadataFiles = []string{
	"config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
	"added_tokens.json", "preprocessor_config.json", "generation_config.json",
	"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
}

// SelectFiles picks the files a model needs from a repository listing: the
// configuration and tokenizer files, and one copy of the weights in
// transformers' order of preference (model.safetensors, the safetensors
// shard index and its shards, pytorch_model.bin, its index and shards). For
// sharded weights the index must be downloaded first to know the shards;
// Download does that.
func SelectFiles(files []string, opts DownloadOptions) []string {
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	var out []string
	add := func(f string) {
		if have[f] && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if opts.All {
		out = append(out, files...)
		sort.Strings(out)
		return out
	}
	for _, f := range metadataFiles {
		add(f)
	}
	for _, w := range WeightFileNames {
		if have[w] {
			add(w)
			break
		}
	}
	for _, f := range files {
		for _, pat := range opts.Include {
			if ok, _ := path.Match(pat, f); ok {
				add(f)
			}
		}
	}
	return out
}

// Download fetches a model repository's configuration, tokenizer and
// weights (see SelectFiles) into the cache and returns the snapshot folder,
// which can be used as a model folder. Offline, it returns the cached
// snapshot when it holds the weights.
func (h *Hub) Download(ctx context.Context, repoID string, opts DownloadOptions) (string, error) {
	rev := opts.Revision
	if rev == "" {
		rev = "main"
	}
	if h.Offline {
		return h.CachedSnapshot(repoID, rev)
	}
	commit, listing, err := h.ListFiles(ctx, repoID, rev)
	if err != nil {
		return "", err
	}
	if !isCommit(commit) {
		return "", fmt.Errorf("hub %s@%s: the listing has no commit hash", repoID, rev)
	}
	var names []string
	for _, f := range listing {
		names = append(names, f.Name)
	}
	files := SelectFiles(names, opts)
	if len(files) == 0 {
		return "", fmt.Errorf("hub %s@%s: no model files among %d files", repoID, rev, len(names))
	}
	// Pin every file to the listed commit so a push in between cannot mix
	// revisions; record the ref once.
	var snapshot string
	for i := 0; i < len(files); i++ {
		p, err := h.DownloadFile(ctx, repoID, commit, files[i])
		if err != nil {
			return "", err
		}
		snapshot = filepath.Dir(p)
		for d := strings.Count(files[i], "/"); d > 0; d-- {
			snapshot = filepath.Dir(snapshot)
		}
		if strings.HasSuffix(files[i], ".index.json") {
			idx, err := ReadShardIndex(p)
			if err != nil {
				return "", err
			}
			for _, s := range idx.Shards() {
				if !slices.Contains(files, s) {
					files = append(files, s)
				}
			}
		}
	}
	if err := h.writeRef(h.RepoFolder(repoID), rev, commit); err != nil {
		return "", err
	}
	return snapshot, nil
}

// CachedFile finds a file of a repository in the cache without the network.
func (h *Hub) CachedFile(repoID, revision, file string) (string, error) {
	snap, err := h.snapshotDir(repoID, revision)
	if err != nil {
		return "", err
	}
	p := filepath.Join(snap, filepath.FromSlash(file))
	if !fileExists(p) {
		return "", fmt.Errorf("hub cache: %s@%s has no %s", repoID, revision, file)
	}
	return p, nil
}

func (h *Hub) snapshotDir(repoID, revision string) (string, error) {
	if !ValidRepoID(repoID) {
		return "", fmt.Errorf("hub: invalid repository id %q", repoID)
	}
	if revision == "" {
		revision = "main"
	}
	repo := h.RepoFolder(repoID)
	commit := revision
	if !isCommit(revision) {
		if !validFileName(revision) {
			return "", fmt.Errorf("hub: invalid revision %q", revision)
		}
		b, err := os.ReadFile(filepath.Join(repo, "refs", filepath.FromSlash(revision)))
		if err != nil {
			return "", fmt.Errorf("hub cache: %s@%s is not downloaded (%s)", repoID, revision, h.CacheDir)
		}
		commit = strings.TrimSpace(string(b))
	}
	snap := filepath.Join(repo, "snapshots", commit)
	if st, err := os.Stat(snap); err != nil || !st.IsDir() {
		return "", fmt.Errorf("hub cache: %s@%s (commit %s) is not downloaded (%s)", repoID, revision, commit, h.CacheDir)
	}
	return snap, nil
}

// CachedSnapshot returns the cached snapshot folder of a repository at a
// revision, provided it holds weights.
func (h *Hub) CachedSnapshot(repoID, revision string) (string, error) {
	snap, err := h.snapshotDir(repoID, revision)
	if err != nil {
		return "", err
	}
	f, err := InspectFolder(snap)
	if err != nil {
		return "", err
	}
	if f.Weights == "" {
		return "", fmt.Errorf("hub cache: %s has no weights", snap)
	}
	return snap, nil
}

// Resolve turns a model name into a local model folder without using the
// network: an existing folder is returned as is; otherwise the name is a hub
// repository id, optionally with "@revision", looked up in the cache of
// NewHub (run `vbg pretrained download` first).
func Resolve(nameOrFolder string) (string, error) {
	if st, err := os.Stat(nameOrFolder); err == nil && st.IsDir() {
		return nameOrFolder, nil
	}
	repo, rev, _ := strings.Cut(nameOrFolder, "@")
	if !ValidRepoID(repo) {
		return "", fmt.Errorf("pretrained %q: not a folder and not a hub repository id", nameOrFolder)
	}
	snap, err := NewHub().CachedSnapshot(repo, rev)
	if err != nil {
		return "", fmt.Errorf("pretrained %q: not a folder, and %w (fetch it with: vbg pretrained download %s)", nameOrFolder, err, nameOrFolder)
	}
	return snap, nil
}
