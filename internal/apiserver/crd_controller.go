package apiserver

import (
	"context"
	"fmt"
	"log"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/apiextensions"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage"
)

// The CRD controller runs inside the API server (as upstream's apiextensions
// controllers do): it watches CustomResourceDefinitions in storage, decides
// whether their names are accepted (NamesAccepted), marks them Established,
// starts and stops serving their resources, and on deletion removes every
// custom resource before dropping the customresourcecleanup finalizer.

var crdGR = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}

// customVerbs are the verbs every custom resource serves.
var customVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

func (s *Server) crdRow() *catalog.Resource {
	return catalog.Lookup(crdGR.Group, "v1", crdGR.Resource)
}

func (s *Server) crdKey(name string) string { return s.storagePrefix(s.crdRow()) + name }

// runCRDController reconciles CRDs until ctx ends: every watch event queues the
// CRD's name; a terminating CRD is re-queued until its instances are gone.
func (s *Server) runCRDController(ctx context.Context) {
	store := s.stores[crdGR]
	if store == nil {
		return
	}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	go func() {
		<-ctx.Done()
		q.ShutDown()
	}()
	go s.watchCRDs(ctx, store, q)
	for {
		name, shutdown := q.Get()
		if shutdown {
			return
		}
		requeue, err := s.reconcileCRD(ctx, name)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Printf("apiserver: crd %s: %v", name, err)
			q.AddRateLimited(name)
		case requeue:
			q.AddAfter(name, 200*time.Millisecond)
		default:
			q.Forget(name)
		}
		q.Done(name)
	}
}

// watchCRDs feeds the queue from a watch-list of the CRDs, restarting it when it ends.
func (s *Server) watchCRDs(ctx context.Context, store storage.Interface, q workqueue.TypedRateLimitingInterface[string]) {
	initial := true
	for ctx.Err() == nil {
		w, err := store.Watch(ctx, s.storagePrefix(s.crdRow()), storage.WatchOptions{SendInitialEvents: &initial, AllowBookmarks: true})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Bookmark || ev.Type == watch.Error {
				continue
			}
			if m, err := metaAccessor(ev.Object); err == nil {
				q.Add(m.Name)
			}
		}
		w.Stop()
	}
}

// reconcileCRD brings one CRD's status and serving in line with its spec.
func (s *Server) reconcileCRD(ctx context.Context, name string) (requeue bool, err error) {
	store := s.stores[crdGR]
	obj, err := store.Get(ctx, s.crdKey(name), "")
	if apierrors.IsNotFound(err) {
		s.unserveCRD(name)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	crd := obj.(*apiextensionsv1.CustomResourceDefinition)
	if crd.DeletionTimestamp != nil {
		return s.cleanupCRD(ctx, crd)
	}
	status := s.crdStatus(crd)
	if !apiequality.Semantic.DeepEqual(status, crd.Status) {
		_, err := store.Update(ctx, s.crdKey(name), nil, func(cur runtime.Object) (runtime.Object, error) {
			c := cur.DeepCopyObject().(*apiextensionsv1.CustomResourceDefinition)
			c.Status = s.crdStatus(c)
			return c, nil
		}, false)
		return false, err // the update's watch event reconciles again
	}
	if isEstablished(crd) {
		return false, s.serveCRD(ctx, crd)
	}
	s.unserveCRD(name)
	return false, nil
}

func condition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) *apiextensionsv1.CustomResourceDefinitionCondition {
	for i := range crd.Status.Conditions {
		if crd.Status.Conditions[i].Type == t {
			return &crd.Status.Conditions[i]
		}
	}
	return nil
}

func isEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	c := condition(crd, apiextensionsv1.Established)
	return c != nil && c.Status == apiextensionsv1.ConditionTrue
}

// crdStatus is the status the controller wants: names accepted unless another CRD
// or a built-in resource of the group uses them, Established once they are.
func (s *Server) crdStatus(crd *apiextensionsv1.CustomResourceDefinition) apiextensionsv1.CustomResourceDefinitionStatus {
	out := *crd.Status.DeepCopy()
	reason, msg := s.namesConflict(crd)
	if reason == "" {
		out.AcceptedNames = crd.Spec.Names
		setCondition(&out, apiextensionsv1.NamesAccepted, apiextensionsv1.ConditionTrue, "NoConflicts", "no conflicts found")
		setCondition(&out, apiextensionsv1.Established, apiextensionsv1.ConditionTrue, "InitialNamesAccepted", "the initial names have been accepted")
	} else {
		setCondition(&out, apiextensionsv1.NamesAccepted, apiextensionsv1.ConditionFalse, reason, msg)
		if c := condition(crd, apiextensionsv1.Established); c == nil || c.Status != apiextensionsv1.ConditionTrue {
			setCondition(&out, apiextensionsv1.Established, apiextensionsv1.ConditionFalse, "NotAccepted", "not all names are accepted")
		}
	}
	return out
}

func setCondition(st *apiextensionsv1.CustomResourceDefinitionStatus, t apiextensionsv1.CustomResourceDefinitionConditionType,
	status apiextensionsv1.ConditionStatus, reason, msg string) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(time.Now().Truncate(time.Second))
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	st.Conditions = append(st.Conditions, apiextensionsv1.CustomResourceDefinitionCondition{Type: t, Status: status,
		Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second))})
}

// namesConflict reports the first of crd's names already taken in its group by a
// built-in resource or another CRD's accepted names ("" when none is).
func (s *Server) namesConflict(crd *apiextensionsv1.CustomResourceDefinition) (reason, msg string) {
	type owner struct {
		plural, singular, kind, listKind string
		short                            []string
	}
	var others []owner
	for _, r := range catalog.Resources {
		if r.Group == crd.Spec.Group {
			others = append(others, owner{r.Resource, r.SingularName, r.Kind, r.Kind + "List", r.ShortNames})
		}
	}
	list, err := s.stores[crdGR].List(context.Background(), s.storagePrefix(s.crdRow()), storage.ListOptions{ResourceVersion: "0"})
	if err == nil {
		for _, o := range list.Items {
			c := o.(*apiextensionsv1.CustomResourceDefinition)
			if c.Name == crd.Name || c.Spec.Group != crd.Spec.Group || c.Status.AcceptedNames.Plural == "" {
				continue
			}
			n := c.Status.AcceptedNames
			others = append(others, owner{n.Plural, n.Singular, n.Kind, n.ListKind, n.ShortNames})
		}
	}
	n := crd.Spec.Names
	// A kind the scheme knows would be decoded as that Go type, not as a custom object.
	for _, v := range crd.Spec.Versions {
		if catalog.Scheme.Recognizes(schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: n.Kind}) {
			return "KindConflict", fmt.Sprintf("%q is already in use", n.Kind)
		}
	}
	for _, o := range others {
		resourceNames := append([]string{o.plural, o.singular}, o.short...)
		switch {
		case contains(resourceNames, n.Plural):
			return "PluralConflict", fmt.Sprintf("%q is already in use", n.Plural)
		case contains(resourceNames, n.Singular):
			return "SingularConflict", fmt.Sprintf("%q is already in use", n.Singular)
		case n.Kind == o.kind || n.Kind == o.listKind:
			return "KindConflict", fmt.Sprintf("%q is already in use", n.Kind)
		case n.ListKind == o.kind || n.ListKind == o.listKind:
			return "ListKindConflict", fmt.Sprintf("%q is already in use", n.ListKind)
		}
		for _, sn := range n.ShortNames {
			if contains(resourceNames, sn) {
				return "ShortNamesConflict", fmt.Sprintf("%q is already in use", sn)
			}
		}
	}
	return "", ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// serveCRD (re)builds the served rows of an established CRD, keeping its store.
func (s *Server) serveCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	gr := schema.GroupResource{Group: crd.Spec.Group, Resource: crd.Status.AcceptedNames.Plural}
	s.custom.mu.RLock()
	cur := s.custom.byName[crd.Name]
	s.custom.mu.RUnlock()
	if cur == nil || cur.uid != crd.UID || cur.gr != gr {
		s.unserveCRD(crd.Name)
		st, stop, err := s.customStore(ctx, crd, gr)
		if err != nil {
			return err
		}
		cur = &servedCRD{uid: crd.UID, gr: gr, store: st, stop: stop}
	}
	next := &servedCRD{uid: cur.uid, gr: gr, store: cur.store, stop: cur.stop}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if !v.Served {
			continue
		}
		res := customRow(crd, v)
		next.versions = append(next.versions, &servedVersion{res: res, strategy: registry.Custom(res, v), crd: next})
	}
	s.custom.mu.Lock()
	defer s.custom.mu.Unlock()
	if old := s.custom.byName[crd.Name]; old != nil {
		for _, v := range old.versions {
			delete(s.custom.byGVR, v.res.GroupVersionResource)
		}
	}
	s.custom.byName[crd.Name] = next
	for _, v := range next.versions {
		s.custom.byGVR[v.res.GroupVersionResource] = v
	}
	return nil
}

// customRow is the catalog row of one served version of a CRD.
func customRow(crd *apiextensionsv1.CustomResourceDefinition, v *apiextensionsv1.CustomResourceDefinitionVersion) *catalog.Resource {
	n := crd.Status.AcceptedNames
	gv := schema.GroupVersion{Group: crd.Spec.Group, Version: v.Name}
	res := &catalog.Resource{
		GroupVersionResource: gv.WithResource(n.Plural), Kind: n.Kind, SingularName: n.Singular,
		Namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped, ShortNames: n.ShortNames,
		Categories: n.Categories, Verbs: customVerbs,
		NewFunc:     func() runtime.Object { return &apiextensions.Object{} },
		NewListFunc: func() runtime.Object { return &apiextensions.ObjectList{} },
	}
	if sr := v.Subresources; sr != nil {
		if sr.Status != nil {
			res.Subresources = append(res.Subresources, catalog.Subresource{Name: "status", Kind: gv.WithKind(n.Kind),
				Verbs: []string{"get", "patch", "update"}})
		}
		if sr.Scale != nil {
			res.Subresources = append(res.Subresources, catalog.Subresource{Name: "scale",
				Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, Verbs: []string{"get", "patch", "update"}})
		}
	}
	return res
}

// customStore starts the storage (and watch cache) of a CRD's objects.
func (s *Server) customStore(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, gr schema.GroupResource) (storage.Interface, context.CancelFunc, error) {
	sctx, stop := context.WithCancel(ctx)
	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: apiextensions.StorageVersion(crd), Kind: crd.Status.AcceptedNames.Kind}
	inert := &registry.Strategy{}
	st, err := storage.New(sctx, storage.Config{
		Client: s.cfg.Etcd, Prefix: customPrefix(s.cfg.Prefix, gr), Resource: gr,
		NewFunc: func() runtime.Object { return &apiextensions.Object{} }, Codec: apiextensions.Codec{GVK: gvk},
		WatchCacheSize: s.cfg.WatchCacheSize,
		DeleteOnUpdate: func(obj runtime.Object) bool { return shouldDelete(inert, obj) },
	})
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("storage for %s: %w", gr, err)
	}
	return st, stop, nil
}

// unserveCRD stops serving a CRD's resources and stops its store.
func (s *Server) unserveCRD(name string) {
	s.custom.mu.Lock()
	cur := s.custom.byName[name]
	if cur != nil {
		for _, v := range cur.versions {
			delete(s.custom.byGVR, v.res.GroupVersionResource)
		}
		delete(s.custom.byName, name)
	}
	s.custom.mu.Unlock()
	if cur != nil && cur.stop != nil {
		cur.stop()
	}
}

// cleanupCRD handles a CRD being deleted: it stops serving the resource, deletes
// every instance (an instance with finalizers is marked and waited for), then
// removes the customresourcecleanup finalizer so storage deletes the CRD.
func (s *Server) cleanupCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) (requeue bool, err error) {
	if !contains(crd.Finalizers, apiextensions.Finalizer) {
		s.unserveCRD(crd.Name)
		return false, nil
	}
	s.unserveCRD(crd.Name)
	if crd.Status.AcceptedNames.Plural != "" {
		gr := schema.GroupResource{Group: crd.Spec.Group, Resource: crd.Status.AcceptedNames.Plural}
		st, stop, err := s.customStore(ctx, crd, gr)
		if err != nil {
			return false, err
		}
		remaining, err := s.deleteInstances(ctx, st, customPrefix(s.cfg.Prefix, gr))
		stop()
		if err != nil {
			return false, err
		}
		if remaining > 0 {
			return true, s.setTerminating(ctx, crd.Name, fmt.Sprintf("CustomResource deletion is in progress (%d remaining)", remaining))
		}
	}
	_, err = s.stores[crdGR].Update(ctx, s.crdKey(crd.Name), nil, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.DeepCopyObject().(*apiextensionsv1.CustomResourceDefinition)
		var keep []string
		for _, f := range c.Finalizers {
			if f != apiextensions.Finalizer {
				keep = append(keep, f)
			}
		}
		c.Finalizers = keep
		return c, nil
	}, false)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// deleteInstances deletes the objects under prefix and returns how many remain
// (held by their own finalizers, which are marked for deletion).
func (s *Server) deleteInstances(ctx context.Context, st storage.Interface, prefix string) (int, error) {
	list, err := st.List(ctx, prefix, storage.ListOptions{})
	if err != nil {
		return 0, err
	}
	remaining := 0
	for _, item := range list.Items {
		o := item.(*apiextensions.Object)
		key := prefix + o.Name
		if o.Namespace != "" {
			key = prefix + o.Namespace + "/" + o.Name
		}
		if len(o.Finalizers) == 0 {
			if _, err := st.Delete(ctx, key, nil, false); err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
			continue
		}
		remaining++
		if o.DeletionTimestamp == nil {
			_, err := st.Update(ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
				c := cur.DeepCopyObject().(*apiextensions.Object)
				now := metav1.Now()
				var zero int64
				c.DeletionTimestamp, c.DeletionGracePeriodSeconds = &now, &zero
				return c, nil
			}, false)
			if err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
		}
	}
	return remaining, nil
}

func (s *Server) setTerminating(ctx context.Context, name, msg string) error {
	_, err := s.stores[crdGR].Update(ctx, s.crdKey(name), nil, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.DeepCopyObject().(*apiextensionsv1.CustomResourceDefinition)
		setCondition(&c.Status, apiextensionsv1.Terminating, apiextensionsv1.ConditionTrue, "InstanceDeletionInProgress", msg)
		return c, nil
	}, false)
	return err
}
