// Package history keeps the ControllerRevision history that DaemonSets and
// StatefulSets use to tell old pods from new ones and to roll back.
//
// A revision stores a snapshot of the owner's pod template (as a strategic
// merge patch of spec.template) under a name "<owner>-<hash>". The hash is of
// that data plus the owner's collisionCount, so a name clash with different
// data is resolved by bumping collisionCount and hashing again.
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// HashLabel is the pod and revision label carrying the revision hash.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// ErrCollision means a revision with the wanted name holds different data; the
// caller must persist the incremented collisionCount and retry.
var ErrCollision = fmt.Errorf("history: controller revision name collision")

// TemplateData encodes a pod template the way revisions store it: a patch
// that replaces spec.template wholesale.
func TemplateData(t *corev1.PodTemplateSpec) runtime.RawExtension {
	tmpl, _ := json.Marshal(t)
	var m map[string]any
	_ = json.Unmarshal(tmpl, &m)
	m["$patch"] = "replace"
	raw, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	return runtime.RawExtension{Raw: raw}
}

// TemplateFrom decodes the pod template stored by TemplateData.
func TemplateFrom(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &p); err != nil {
		return nil, fmt.Errorf("history: decode revision %s: %w", rev.Name, err)
	}
	return &p.Spec.Template, nil
}

// Hash returns the short, label-safe hash of data and collisionCount.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.Itoa(int(*collisionCount))))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Owner describes the object whose history is kept.
type Owner struct {
	Object     metav1.Object
	APIVersion string
	Kind       string
	Selector   labels.Selector
	Labels     map[string]string // copied onto new revisions
	Data       runtime.RawExtension
	Collision  *int32 // the owner's status.collisionCount (may be nil)
}

// Store reads revisions from a lister and writes through the client.
type Store struct {
	Client kubernetes.Interface
	Lister appslisters.ControllerRevisionLister
}

// List returns the revisions controlled by the owner, oldest revision first.
func (s Store) List(o Owner) ([]*appsv1.ControllerRevision, error) {
	all, err := s.Lister.ControllerRevisions(o.Object.GetNamespace()).List(o.Selector)
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for _, r := range all {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == o.Object.GetUID() {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Revision != out[j].Revision {
			return out[i].Revision < out[j].Revision
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Ensure returns the revision holding o.Data, creating it (or renumbering an
// equal older revision to be the newest, which is what a rollback does) as
// needed. revs must be the owner's revisions from List. ErrCollision asks the
// caller to bump collisionCount.
func (s Store) Ensure(ctx context.Context, o Owner, revs []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	var next int64 = 1
	if n := len(revs); n > 0 {
		next = revs[n-1].Revision + 1
	}
	for i, r := range revs {
		if !bytes.Equal(r.Data.Raw, o.Data.Raw) {
			continue
		}
		if i == len(revs)-1 {
			return r, nil
		}
		cp := r.DeepCopy()
		cp.Revision = next
		return s.Client.AppsV1().ControllerRevisions(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	}
	hash := Hash(o.Data.Raw, o.Collision)
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            o.Object.GetName() + "-" + hash,
			Namespace:       o.Object.GetNamespace(),
			Labels:          map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*ctrlutil.NewControllerRef(o.Object, o.APIVersion, o.Kind)},
		},
		Data:     o.Data,
		Revision: next,
	}
	for k, v := range o.Labels {
		rev.Labels[k] = v
	}
	rev.Labels[HashLabel] = hash
	created, err := s.Client.AppsV1().ControllerRevisions(rev.Namespace).Create(ctx, rev, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	live, gerr := s.Client.AppsV1().ControllerRevisions(rev.Namespace).Get(ctx, rev.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, gerr
	}
	if ref := metav1.GetControllerOf(live); ref != nil && ref.UID == o.Object.GetUID() && bytes.Equal(live.Data.Raw, o.Data.Raw) {
		return live, nil // our informer had not seen it yet
	}
	return nil, ErrCollision
}

// Truncate deletes the oldest revisions not in live until at most keep
// non-live revisions remain.
func (s Store) Truncate(ctx context.Context, revs []*appsv1.ControllerRevision, live map[string]bool, keep int32) error {
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	for i := 0; i < len(old)-int(keep); i++ {
		err := s.Client.AppsV1().ControllerRevisions(old[i].Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
