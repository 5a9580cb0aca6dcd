package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

var patchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType)}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if err := validateDryRun(r); err != nil {
		writeError(w, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(mt)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
	default:
		writeError(w, unsupportedMediaType(mt, patchTypes))
		return
	}
	if pt == types.ApplyCBORPatchType {
		writeError(w, unsupportedMediaType(mt, patchTypes))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	if pt == types.ApplyYAMLPatchType {
		if q.Get("fieldManager") == "" {
			writeError(w, apierrors.NewBadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"))
			return
		}
		s.apply(w, r, ri, body, q.Get("fieldManager"), q.Get("force") == "true")
		return
	}
	out, err := s.patchObject(r.Context(), w, r, ri, pt, body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusOK, withKind(out, ri.res.GVK()))
}

// patchObject applies a JSON, merge or strategic-merge patch to the stored object and
// stores the result through the normal update path (defaults, validation, generation).
// A resourceVersion inside the patch is a precondition; without one a concurrent write
// just re-runs the patch.
func (s *Server) patchObject(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo, pt types.PatchType, body []byte) (runtime.Object, error) {
	gvk := ri.res.GVK()
	manager := r.URL.Query().Get("fieldManager")
	return s.updateObject(ctx, ri, isDryRun(r), func(current runtime.Object) (runtime.Object, error) {
		cur := withKind(current.DeepCopyObject(), gvk)
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, curJSON, body, cur)
		if err != nil {
			return nil, err
		}
		obj, err := decodeWith(w, r, jsonInfo, gvk, patched)
		if err != nil {
			return nil, err
		}
		next, err := s.prepareUpdate(ctx, ri, obj, current, isDryRun(r))
		if err != nil {
			return nil, err
		}
		return next, s.trackUpdate(ri, next, current, manager, r.UserAgent())
	})
}

func applyPatch(pt types.PatchType, current, patch []byte, schemaObj runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(current)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(current, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		out, err := strategicpatch.StrategicMergePatch(current, patch, schemaObj)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, unsupportedMediaType(string(pt), patchTypes)
}

// apply is server-side apply: the applied configuration is merged into the live object
// by the field manager, which owns conflict detection (409 with the conflicting fields).
func (s *Server) apply(w http.ResponseWriter, r *http.Request, ri requestInfo, body []byte, manager string, force bool) {
	gvk := ri.res.GVK()
	if sub := ri.res.Subresource(ri.subresource); sub != nil {
		gvk = sub.Kind
	}
	jsonBody, err := yaml.YAMLToJSON(body)
	if err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err)))
		return
	}
	// The typed decode only checks the body (kind, strict field validation). The field
	// manager gets the configuration as the client wrote it: a typed round trip would
	// add zero values (targetPort: 0, selector: null ...) the client never set, and
	// the manager would claim those fields and conflict with their real owners.
	if _, err := decodeWith(w, r, jsonInfo, gvk, jsonBody); err != nil {
		writeError(w, err)
		return
	}
	applied, err := appliedConfiguration(jsonBody, gvk)
	if err != nil {
		writeError(w, err)
		return
	}
	fm, err := fieldManagerFor(ri.res.GVK(), ri.subresource, s.strategy(ri).Default)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	ctx, dryRun := r.Context(), isDryRun(r)
	existing, err := s.store(ri).Get(ctx, s.key(ri, ri.name), "")
	if apierrors.IsNotFound(err) {
		s.applyCreate(w, r, ri, fm, applied, manager, force, dryRun)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	_ = existing
	out, err := s.updateObject(ctx, ri, dryRun, func(current runtime.Object) (runtime.Object, error) {
		merged, err := fm.Apply(withKind(current.DeepCopyObject(), ri.res.GVK()), applied.DeepCopyObject(), manager, force)
		if err != nil {
			return nil, err
		}
		m, _ := metaAccessor(merged)
		m.ResourceVersion = ""
		return s.prepareUpdate(ctx, ri, merged, current, dryRun)
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusOK, withKind(out, ri.res.GVK()))
}

func (s *Server) applyCreate(w http.ResponseWriter, r *http.Request, ri requestInfo, fm applier, applied runtime.Object, manager string, force, dryRun bool) {
	if ri.subresource != "" {
		writeError(w, apierrors.NewNotFound(ri.res.GroupResource(), ri.name))
		return
	}
	merged, err := fm.Apply(ri.res.New(), applied, manager, force)
	if err != nil {
		writeError(w, err)
		return
	}
	m, _ := metaAccessor(merged)
	if m.Name == "" {
		m.Name = ri.name
	}
	if m.Name != ri.name {
		writeError(w, apierrors.NewBadRequest("the name of the object ("+m.Name+") does not match the name on the URL ("+ri.name+")"))
		return
	}
	s.applyCreateStore(w, r, ri, merged, dryRun)
}

func (s *Server) applyCreateStore(w http.ResponseWriter, r *http.Request, ri requestInfo, obj runtime.Object, dryRun bool) {
	out, err := s.createObject(r.Context(), ri, obj, dryRun, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusCreated, withKind(out, ri.res.GVK()))
}

// appliedConfiguration is the apply body as an unstructured object of gvk.
func appliedConfiguration(jsonBody []byte, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(jsonBody); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding apply configuration: %v", err))
	}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

type applier interface {
	Apply(liveObj, appliedObj runtime.Object, manager string, force bool) (runtime.Object, error)
}
