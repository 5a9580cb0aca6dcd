package apiserver

import (
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage"
)

func isDryRun(r *http.Request) bool {
	for _, v := range r.URL.Query()["dryRun"] {
		if v == "All" {
			return true
		}
	}
	return false
}

// validateDryRun rejects dryRun values other than All, as upstream does.
func validateDryRun(r *http.Request) error {
	for _, v := range r.URL.Query()["dryRun"] {
		if v != "All" {
			return apierrors.NewBadRequest("dryRun must be either \"All\" or unset, got " + v)
		}
	}
	return nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if err := validateDryRun(r); err != nil {
		writeError(w, err)
		return
	}
	obj, err := readObject(w, r, ri.res.GVK())
	if err != nil {
		writeError(w, err)
		return
	}
	manager, agent := r.URL.Query().Get("fieldManager"), r.UserAgent()
	out, err := s.createObject(r.Context(), ri, obj, isDryRun(r), func(o runtime.Object) error {
		return s.trackCreate(ri, o, manager, agent)
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusCreated, withKind(out, ri.res.GVK()))
}

// createObject admits, validates and stores a new object.
// track, when set, records the write in managedFields (server-side apply has done so already).
func (s *Server) createObject(ctx context.Context, ri requestInfo, obj runtime.Object, dryRun bool, track func(runtime.Object) error) (runtime.Object, error) {
	if err := s.prepareCreate(ctx, ri, obj, dryRun); err != nil {
		return nil, err
	}
	if track != nil {
		if err := track(obj); err != nil {
			return nil, err
		}
	}
	m, _ := metaAccessor(obj)
	if m.Name == "" {
		return nil, invalid(obj, "", nameRequired())
	}
	return s.store(ri).Create(ctx, s.key(ri, m.Name), obj, dryRun)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if err := validateDryRun(r); err != nil {
		writeError(w, err)
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	gvk := ri.res.GVK()
	if sub := ri.res.Subresource(ri.subresource); sub != nil {
		gvk = sub.Kind
	}
	obj, err := decodeBody(w, r, gvk, data)
	if err != nil {
		writeError(w, err)
		return
	}
	manager := r.URL.Query().Get("fieldManager")
	out, err := s.updateObject(r.Context(), ri, isDryRun(r), func(current runtime.Object) (runtime.Object, error) {
		next, err := s.prepareUpdate(r.Context(), ri, obj.DeepCopyObject(), current, isDryRun(r))
		if err != nil {
			return nil, err
		}
		return next, s.trackUpdate(ri, next, current, manager, r.UserAgent())
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusOK, withKind(out, ri.res.GVK()))
}

// updateObject runs fn against the stored object (retrying on concurrent writes).
// Storage deletes the object instead when the update leaves its deletion nothing to
// wait for (last finalizer removed), with the strategy's releases in the same transaction.
func (s *Server) updateObject(ctx context.Context, ri requestInfo, dryRun bool, fn storage.UpdateFunc) (runtime.Object, error) {
	return s.store(ri).Update(ctx, s.key(ri, ri.name), nil, fn, dryRun)
}
