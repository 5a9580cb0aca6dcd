package daemonset

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// TemplateGenerationLabel is the legacy label carrying the DaemonSet
// generation a pod was created from.
const TemplateGenerationLabel = "pod-template-generation"

// defaultTolerations are added to every daemon pod (as upstream does) so node
// conditions and cordoning do not evict or block the node's own agents.
var defaultTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// hostNetworkToleration is added only for hostNetwork pods, which do not need
// the node's pod network to be up.
var hostNetworkToleration = corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable,
	Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

// withDefaultTolerations returns spec's tolerations plus the daemon defaults
// not already present.
func withDefaultTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	out := append([]corev1.Toleration(nil), spec.Tolerations...)
	add := defaultTolerations
	if spec.HostNetwork {
		add = append(append([]corev1.Toleration(nil), add...), hostNetworkToleration)
	}
	for _, t := range add {
		dup := false
		for _, have := range out {
			if have.Key == t.Key && have.Effect == t.Effect && have.Operator == t.Operator {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

// placement is the verdict for one node.
type placement struct {
	// shouldRun: a daemon pod should be created here if missing.
	shouldRun bool
	// shouldContinue: an existing daemon pod may stay (a new NoSchedule
	// taint stops new pods but does not evict running ones).
	shouldContinue bool
}

// place decides whether ds belongs on node.
func place(ds *appsv1.DaemonSet, node *corev1.Node) placement {
	spec := &ds.Spec.Template.Spec
	if spec.NodeName != "" && spec.NodeName != node.Name {
		return placement{}
	}
	probe := &corev1.Pod{Spec: *spec.DeepCopy()}
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(probe).Match(node); err != nil || !ok {
		return placement{}
	}
	tols := withDefaultTolerations(spec)
	logger := klog.Background()
	noExec := func(t *corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoExecute }
	if _, bad := v1helper.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, tols, noExec, false); bad {
		return placement{}
	}
	noSched := func(t *corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoSchedule }
	if _, bad := v1helper.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, tols, noSched, false); bad {
		return placement{shouldContinue: true}
	}
	return placement{shouldRun: true, shouldContinue: true}
}

// newPod builds the daemon pod for node from ds's template at revision hash.
func newPod(ds *appsv1.DaemonSet, nodeName, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	lbls := map[string]string{}
	for k, v := range t.Labels {
		lbls[k] = v
	}
	lbls[history.HashLabel] = hash
	lbls[TemplateGenerationLabel] = strconv.FormatInt(ds.Generation, 10)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ctrlutil.NewControllerRef(ds, controllerKind.GroupVersion().String(), controllerKind.Kind)},
		},
		Spec: t.Spec,
	}
	pod.Spec.Tolerations = withDefaultTolerations(&pod.Spec)
	pinToNode(&pod.Spec, nodeName)
	return pod
}

// pinToNode replaces the required node affinity with one term matching the
// node's name, so the scheduler (which honours taints, resources and ports)
// binds the pod there. Preferred terms are kept.
func pinToNode(spec *corev1.PodSpec, nodeName string) {
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName},
		}}}},
	}
}

// targetNode is the node a daemon pod runs on or is pinned to.
func targetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}
