package apiserver

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"sigs.k8s.io/yaml"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/storage"
)

func nameRequired() field.ErrorList {
	return field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")}
}

// deleteOptions reads DeleteOptions from the body (JSON or protobuf) or the query.
func deleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		if err := decodeDeleteOptions(r, data, opts); err != nil {
			return nil, err
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid gracePeriodSeconds " + v)
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	opts.DryRun = append(opts.DryRun, q["dryRun"]...)
	for _, d := range opts.DryRun {
		if d != metav1.DryRunAll {
			return nil, apierrors.NewBadRequest("dryRun must be either \"All\" or unset, got " + d)
		}
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewBadRequest("propagationPolicy must be one of Orphan, Background, Foreground")
		}
	}
	return opts, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	opts, err := deleteOptions(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := s.deleteObject(r.Context(), ri, ri.name, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusOK, withKind(out, ri.res.GVK()))
}

// deleteObject deletes at once, or marks the object (deletionTimestamp) when finalizers,
// a propagation policy or a pod's grace period must run first.
func (s *Server) deleteObject(ctx context.Context, ri requestInfo, name string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	dryRun := len(opts.DryRun) > 0
	current, err := s.store(ri).Get(ctx, s.key(ri, name), "")
	if err != nil {
		return nil, err
	}
	if err := checkPreconditions(ri, current, opts.Preconditions); err != nil {
		return nil, err
	}
	// The admission chain (admissionchain.go) sees deletes with the stored object.
	if err := s.admit(ctx, admission.Delete, withName(ri, name), nil, current); err != nil {
		return nil, err
	}
	cm, _ := metaAccessor(current)
	grace := gracePeriod(current, opts)
	finalizers := finalizersFor(cm.Finalizers, opts)
	if len(finalizers) == 0 && grace == 0 && !isNamespaceWithFinalizers(current) {
		pre := &storage.Preconditions{UID: &cm.UID}
		out, err := s.store(ri).Delete(ctx, s.key(ri, name), pre, dryRun)
		if err == nil && !dryRun {
			s.afterDelete(ctx, out)
		}
		return out, err
	}
	return s.updateObject(ctx, withName(ri, name), dryRun, func(cur runtime.Object) (runtime.Object, error) {
		return markDeleted(cur, finalizersFor(mustMeta(cur).Finalizers, opts), grace), nil
	})
}

func withName(ri requestInfo, name string) requestInfo { ri.name = name; return ri }

func mustMeta(obj runtime.Object) *metav1.ObjectMeta { m, _ := metaAccessor(obj); return m }

// markDeleted sets deletionTimestamp (once) and the grace period, shortening a
// running one but never lengthening it.
func markDeleted(cur runtime.Object, finalizers []string, grace int64) runtime.Object {
	obj := cur.DeepCopyObject()
	m := mustMeta(obj)
	m.Finalizers = finalizers
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	now := metav1.Now()
	if m.DeletionTimestamp == nil {
		ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
		m.DeletionTimestamp, m.DeletionGracePeriodSeconds = &ts, &grace
		return obj
	}
	if m.DeletionGracePeriodSeconds != nil && grace < *m.DeletionGracePeriodSeconds {
		ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
		m.DeletionTimestamp, m.DeletionGracePeriodSeconds = &ts, &grace
	}
	return obj
}

// gracePeriod: only pods on a node that are still running get one; everything else goes at once.
func gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		if *opts.GracePeriodSeconds < 0 {
			return 1
		}
		return *opts.GracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// finalizersFor adds the garbage collector's finalizer the propagation policy asks for.
func finalizersFor(existing []string, opts *metav1.DeleteOptions) []string {
	out := append([]string(nil), existing...)
	policy := metav1.DeletePropagationBackground
	if opts.PropagationPolicy != nil {
		policy = *opts.PropagationPolicy
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		policy = metav1.DeletePropagationOrphan
	}
	add := func(f string) {
		for _, e := range out {
			if e == f {
				return
			}
		}
		out = append(out, f)
	}
	switch policy {
	case metav1.DeletePropagationForeground:
		add(metav1.FinalizerDeleteDependents)
	case metav1.DeletePropagationOrphan:
		add(metav1.FinalizerOrphanDependents)
	}
	return out
}

func isNamespaceWithFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

func checkPreconditions(ri requestInfo, obj runtime.Object, pre *metav1.Preconditions) error {
	if pre == nil {
		return nil
	}
	m := mustMeta(obj)
	if pre.UID != nil && *pre.UID != m.UID {
		return apierrors.NewConflict(ri.res.GroupResource(), m.Name,
			errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, m.UID))
	}
	if pre.ResourceVersion != nil && *pre.ResourceVersion != m.ResourceVersion {
		return apierrors.NewConflict(ri.res.GroupResource(), m.Name,
			errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, m.ResourceVersion))
	}
	return nil
}

// deleteCollection deletes every object matching the selectors, one by one (each with
// the same semantics as a single delete), and returns the list of what was deleted.
func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	opts, err := deleteOptions(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := parseListParams(r.URL.Query(), ri.res.GVK().GroupKind(), false)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.store(ri).List(r.Context(), s.collectionPrefix(ri), storage.ListOptions{Predicate: p.predicate})
	if err != nil {
		writeError(w, err)
		return
	}
	var deleted []runtime.Object
	for _, item := range res.Items {
		m := mustMeta(item)
		rri := ri
		rri.namespace = m.Namespace
		out, err := s.deleteObject(r.Context(), rri, m.Name, opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		deleted = append(deleted, out)
	}
	list, err := buildList(ri, deleted, metav1.ListMeta{ResourceVersion: itoa(int64(res.ResourceVersion))})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusOK, list)
}

// decodeDeleteOptions reads a DeleteOptions body. Clients label it v1, meta.k8s.io/v1
// or the resource's own group version; all are the same type, so the envelope's kind
// is not checked against the scheme.
func decodeDeleteOptions(r *http.Request, data []byte, opts *metav1.DeleteOptions) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch mt {
	case mediaProtobuf:
		unk := &runtime.Unknown{}
		if _, _, err = protoInfo.Serializer.Decode(data, nil, unk); err == nil {
			err = opts.Unmarshal(unk.Raw)
		}
	case mediaYAML:
		err = yaml.Unmarshal(data, opts)
	default:
		err = json.Unmarshal(data, opts)
	}
	if err != nil {
		return apierrors.NewBadRequest("DeleteOptions cannot be decoded: " + err.Error())
	}
	return nil
}
