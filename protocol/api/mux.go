package api

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Mux is the request router of the control plane's admin API and of the
// agent's API: an http.ServeMux whose routes are "METHOD /path" patterns,
// with the answers HTTP gives a client that asks wrongly.
//
//   - A path some route serves, asked with a method none serves, is 405
//     method_not_allowed with an Allow header naming the methods that are
//     served (a plain ServeMux does that too, but not once a catch-all "/"
//     route is registered, which both APIs need for their JSON 404).
//   - A request whose body is encoded (a Content-Encoding other than
//     identity) is 415 unsupported_media_type: its handlers read bodies as
//     sent, and a gzip body read as JSON would be refused as invalid_json,
//     which blames the JSON.
type Mux struct {
	mux *http.ServeMux

	mu      sync.RWMutex
	methods map[string][]string // path (pattern without its method) → methods served
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{mux: http.NewServeMux(), methods: map[string][]string{}}
}

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, h)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || !strings.HasPrefix(path, "/") {
		return // a pattern without a method serves every method
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	known, seen := m.methods[path]
	m.methods[path] = append(known, method)
	if method == http.MethodGet {
		m.methods[path] = append(m.methods[path], http.MethodHead) // a GET pattern serves HEAD too
	}
	if !seen {
		m.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { m.notAllowed(w, r, path) })
	}
}

// HandleFunc registers f for pattern.
func (m *Mux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

func (m *Mux) notAllowed(w http.ResponseWriter, r *http.Request, path string) {
	m.mu.RLock()
	allow := slices.Clone(m.methods[path])
	m.mu.RUnlock()
	slices.Sort(allow)
	allow = slices.Compact(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteError(w, Errorf(CodeMethodNotAllowed, "%s %s: this path answers %s only", r.Method, r.URL.Path, strings.Join(allow, ", ")))
}

// ServeHTTP refuses encoded bodies, then routes.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ce := r.Header.Values("Content-Encoding"); len(ce) > 0 && !(len(ce) == 1 && (ce[0] == "" || strings.EqualFold(ce[0], "identity"))) {
		WriteError(w, Errorf(CodeUnsupportedMediaType, "Content-Encoding %q: request bodies are read as sent; send it uncompressed", strings.Join(ce, ", ")))
		return
	}
	m.mux.ServeHTTP(w, r)
}
