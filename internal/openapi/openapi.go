// Package openapi serves the OpenAPI v2 and v3 documents of the served
// resources. They are generated at runtime by reflecting over the k8s.io/api Go
// types (names, descriptions from SwaggerDoc, strategic-merge-patch tags), so
// kubectl can explain fields, decide that the server validates fields, and
// compute client-side apply patches.
package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

const (
	v2Path   = "/openapi/v2"
	v3Prefix = "/openapi/v3"

	mimeJSON = "application/json"
	// The v2 protobuf media type. Clients ask for the "@v1.0" spelling, which is
	// not a valid media type (Go's mime parser rejects it), so replies carry the
	// dotted form, as upstream does.
	mimeV2Proto   = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mimeV2ProtoAt = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// blob is one served representation with its validator.
type blob struct {
	data []byte
	hash string // upper-case hex SHA-512 of data, as upstream
}

func newBlob(data []byte) blob {
	return blob{data: data, hash: fmt.Sprintf("%X", sha512.Sum512(data))}
}

// Docs serves the documents. Every part is built on first use and is
// immutable afterwards; the sync.Once fields are the only synchronisation.
type Docs struct {
	resources []catalog.Resource

	modelOnce sync.Once
	model     *model

	v3Once sync.Once
	v3Root blob
	v3Docs map[string]blob // key: "api/v1", "apis/apps/v1"
	v3Err  error

	v2Once  sync.Once
	v2JSON  blob
	v2Proto blob
	v2Err   error

	built time.Time // Last-Modified of every document
}

// New returns documents for the given resources; nothing is generated until
// the first request, so server start-up stays fast.
func New(resources []catalog.Resource) *Docs {
	return &Docs{resources: resources, built: time.Now()}
}

func (d *Docs) getModel() *model {
	d.modelOnce.Do(func() { d.model = buildModel(d.resources) })
	return d.model
}

func (d *Docs) buildV3() {
	docs, err := d.getModel().openAPI3Docs()
	if err != nil {
		d.v3Err = err
		return
	}
	type entry struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}
	root := struct {
		Paths map[string]entry `json:"paths"`
	}{Paths: map[string]entry{}}
	d.v3Docs = make(map[string]blob, len(docs))
	for gv, data := range docs {
		b := newBlob(data)
		d.v3Docs[gv] = b
		root.Paths[gv] = entry{ServerRelativeURL: hashedURL(gv, b.hash)}
	}
	data, err := json.Marshal(root)
	if err != nil {
		d.v3Err = err
		return
	}
	d.v3Root = newBlob(data)
}

func hashedURL(gv, hash string) string {
	return v3Prefix + "/" + gv + "?" + url.Values{"hash": {hash}}.Encode()
}

func (d *Docs) buildV2() {
	data, err := d.getModel().swagger()
	if err != nil {
		d.v2Err = err
		return
	}
	d.v2JSON = newBlob(data)
	// client-go only accepts the protobuf form of v2; gnostic's parser is the
	// reference conversion from the JSON document.
	doc, err := openapi_v2.ParseDocument(data)
	if err != nil {
		d.v2Err = fmt.Errorf("converting OpenAPI v2 to protobuf: %w", err)
		return
	}
	pb, err := proto.Marshal(doc)
	if err != nil {
		d.v2Err = fmt.Errorf("marshalling OpenAPI v2 protobuf: %w", err)
		return
	}
	d.v2Proto = newBlob(pb)
}

// ServeHTTP serves /openapi/v2, /openapi/v3 and /openapi/v3/<group version path>.
func (d *Docs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == v2Path:
		d.serveV2(w, r)
	case p == v3Prefix || p == v3Prefix+"/":
		d.serveV3Root(w, r)
	case strings.HasPrefix(p, v3Prefix+"/"):
		d.serveV3Group(w, r, strings.TrimPrefix(p, v3Prefix+"/"))
	default:
		http.NotFound(w, r)
	}
}

// wantsV2Proto reports whether the first Accept entry we can serve is protobuf.
// ok is false when nothing in a non-empty Accept header is servable.
func wantsV2Proto(accept string) (protobuf, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return false, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.TrimSpace(strings.ToLower(mt)) {
		case mimeV2Proto, mimeV2ProtoAt:
			return true, true
		case mimeJSON, "application/*", "*/*":
			return false, true
		}
	}
	return false, false
}

func (d *Docs) serveV2(w http.ResponseWriter, r *http.Request) {
	d.v2Once.Do(d.buildV2)
	w.Header().Add("Vary", "Accept")
	if d.v2Err != nil {
		http.Error(w, d.v2Err.Error(), http.StatusInternalServerError)
		return
	}
	pb, ok := wantsV2Proto(r.Header.Get("Accept"))
	if !ok {
		http.Error(w, "OpenAPI v2 is served as application/json or "+mimeV2Proto, http.StatusNotAcceptable)
		return
	}
	if pb {
		d.serveBlob(w, r, d.v2Proto, mimeV2Proto)
		return
	}
	d.serveBlob(w, r, d.v2JSON, mimeJSON)
}

func (d *Docs) serveV3Root(w http.ResponseWriter, r *http.Request) {
	d.v3Once.Do(d.buildV3)
	if d.v3Err != nil {
		http.Error(w, d.v3Err.Error(), http.StatusInternalServerError)
		return
	}
	// The root changes whenever a document does: clients must revalidate it.
	w.Header().Set("Cache-Control", "no-cache")
	d.serveBlob(w, r, d.v3Root, mimeJSON)
}

func (d *Docs) serveV3Group(w http.ResponseWriter, r *http.Request, gv string) {
	d.v3Once.Do(d.buildV3)
	if d.v3Err != nil {
		http.Error(w, d.v3Err.Error(), http.StatusInternalServerError)
		return
	}
	b, ok := d.v3Docs[gv]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Vary", "Accept")
	switch hash := r.URL.Query().Get("hash"); {
	case hash == "":
		w.Header().Set("Cache-Control", "no-cache")
	case hash != b.hash:
		// A stale link (e.g. from a cached root): send the client to the current content, as upstream does.
		http.Redirect(w, r, hashedURL(gv, b.hash), http.StatusMovedPermanently)
		return
	default:
		// The URL names the content, so it can be cached forever.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	d.serveBlob(w, r, b, mimeJSON)
}

// serveBlob writes data with an ETag; http.ServeContent answers If-None-Match with 304.
func (d *Docs) serveBlob(w http.ResponseWriter, r *http.Request, b blob, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("ETag", strconv.Quote(b.hash))
	http.ServeContent(w, r, "", d.built, bytes.NewReader(b.data))
}
