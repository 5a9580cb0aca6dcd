package framework

import (
	"context"
	"encoding/json"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Score bounds: every score plugin must end in [MinNodeScore, MaxNodeScore]
// after normalization; the runtime checks it.
const (
	MinNodeScore int64 = 0
	MaxNodeScore int64 = 100
)

// Plugin is what every plugin is. A plugin implements one or more of the
// extension-point interfaces below; the framework finds them by type
// assertion, so each interface stays one or two methods.
type Plugin interface {
	Name() string
}

// PreFilterPlugin runs once per pod before filtering, to validate the pod
// and precompute into CycleState. Returning Skip disables this plugin's
// Filter for the cycle. A non-nil result narrows the candidate nodes.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *v1.Pod) (*PreFilterResult, *Status)
}

// PreFilterResult narrows filtering to a set of node names (nil = all).
type PreFilterResult struct {
	NodeNames map[string]struct{}
}

// PreFilterExtensions is implemented by PreFilter plugins whose state
// depends on the other pods of a node, so preemption can simulate removing
// (and re-adding) victims without recomputing PreFilter.
type PreFilterExtensions interface {
	AddPod(ctx context.Context, state *CycleState, podToSchedule *v1.Pod, podToAdd *PodInfo, nodeInfo *NodeInfo) *Status
	RemovePod(ctx context.Context, state *CycleState, podToSchedule *v1.Pod, podToRemove *PodInfo, nodeInfo *NodeInfo) *Status
}

// FilterPlugin says whether the pod may run on one node. It is called
// concurrently for many nodes and must not write to shared state. A
// rejection must carry user-facing reasons.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *v1.Pod, nodeInfo *NodeInfo) *Status
}

// NodeStatuses gives a PostFilter plugin the filter outcome of each node.
type NodeStatuses interface {
	// Get returns the status a node was rejected with (nil when it passed
	// or was not evaluated).
	Get(nodeName string) *Status
}

// PostFilterPlugin runs when no node fits (preemption lives here).
type PostFilterPlugin interface {
	Plugin
	PostFilter(ctx context.Context, state *CycleState, pod *v1.Pod, statuses NodeStatuses) (*PostFilterResult, *Status)
}

// PostFilterResult reports a node nominated for the pod.
type PostFilterResult struct {
	NominatedNodeName string
}

// PreScorePlugin runs once before scoring with the feasible nodes.
// Returning Skip disables this plugin's Score for the cycle.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *v1.Pod, nodes []*NodeInfo) *Status
}

// ScorePlugin ranks one feasible node; it is called concurrently.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *v1.Pod, nodeInfo *NodeInfo) (int64, *Status)
}

// ScoreNormalizer is implemented by score plugins whose raw scores are not
// already in [0, 100]; it rewrites scores in place.
type ScoreNormalizer interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *v1.Pod, scores []NodeScore) *Status
}

// NodeScore is one node's score from one plugin.
type NodeScore struct {
	Name  string
	Score int64
}

// ReservePlugin is told when a pod is assumed on a node (Reserve) and when
// that assumption is rolled back (Unreserve, which must be idempotent).
type ReservePlugin interface {
	Plugin
	Reserve(ctx context.Context, state *CycleState, pod *v1.Pod, nodeName string) *Status
	Unreserve(ctx context.Context, state *CycleState, pod *v1.Pod, nodeName string)
}

// PermitPlugin can approve, reject or delay (Wait, up to the timeout) a
// pod before it is bound. A waiting pod is released through
// Handle.WaitingPod(uid).Allow/Reject.
type PermitPlugin interface {
	Plugin
	Permit(ctx context.Context, state *CycleState, pod *v1.Pod, nodeName string) (*Status, time.Duration)
}

// PreBindPlugin runs right before binding (e.g. provisioning volumes).
type PreBindPlugin interface {
	Plugin
	PreBind(ctx context.Context, state *CycleState, pod *v1.Pod, nodeName string) *Status
}

// BindPlugin binds the pod; return Skip to let the next binder do it.
type BindPlugin interface {
	Plugin
	Bind(ctx context.Context, state *CycleState, pod *v1.Pod, nodeName string) *Status
}

// PostBindPlugin is informed after a successful bind.
type PostBindPlugin interface {
	Plugin
	PostBind(ctx context.Context, state *CycleState, pod *v1.Pod, nodeName string)
}

// NodeInfoLister reads the snapshot of the cycle. The snapshot does not
// change during a cycle and must not be modified.
type NodeInfoLister interface {
	// List returns all nodes with a known Node object.
	List() []*NodeInfo
	// Get returns one node, or nil.
	Get(name string) *NodeInfo
	// HavePodsWithAffinity lists nodes hosting pods with pod (anti-)affinity.
	HavePodsWithAffinity() []*NodeInfo
	// HavePodsWithRequiredAntiAffinity lists nodes hosting pods with
	// required anti-affinity.
	HavePodsWithRequiredAntiAffinity() []*NodeInfo
	// ImageNodes counts nodes holding a (normalized) image name.
	ImageNodes(image string) int
}

// Handle is what the framework offers plugins.
type Handle interface {
	SnapshotSharedLister() NodeInfoLister
	ClientSet() kubernetes.Interface
	SharedInformerFactory() informers.SharedInformerFactory
	EventRecorder() record.EventRecorder
	Parallelizer() Parallelizer
	// RunFilterPlugins runs every filter on one node (used by preemption to
	// test a node with victims removed).
	RunFilterPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, nodeInfo *NodeInfo) *Status
	// RunPreFilterExtensionAddPod/RemovePod update state for a simulated
	// pod addition/removal on nodeInfo.
	RunPreFilterExtensionAddPod(ctx context.Context, state *CycleState, pod *v1.Pod, add *PodInfo, nodeInfo *NodeInfo) *Status
	RunPreFilterExtensionRemovePod(ctx context.Context, state *CycleState, pod *v1.Pod, remove *PodInfo, nodeInfo *NodeInfo) *Status
	// WaitingPod returns a pod held by a Permit plugin, or nil.
	WaitingPod(uid string) WaitingPod
}

// WaitingPod is a pod held at Permit.
type WaitingPod interface {
	Pod() *v1.Pod
	Allow(plugin string)
	Reject(plugin, msg string)
}

// Factory builds a plugin from its (possibly empty) JSON args. It should
// decode args strictly and return errors naming the offending field
// (DecodeArgs does that).
type Factory func(args json.RawMessage, h Handle) (Plugin, error)

// Registry maps plugin names to factories. Register a custom plugin by
// adding it to the Registry passed in the scheduler's Options.
type Registry map[string]Factory

// Merge adds other's entries; a duplicate name is an error.
func (r Registry) Merge(other Registry) error {
	for name, f := range other {
		if _, ok := r[name]; ok {
			return &DuplicatePluginError{Name: name}
		}
		r[name] = f
	}
	return nil
}

// DuplicatePluginError is returned when two plugins share a name.
type DuplicatePluginError struct{ Name string }

func (e *DuplicatePluginError) Error() string { return "plugin " + e.Name + " registered twice" }

// DecodeArgs strictly decodes plugin args into out; unknown fields are an
// error that names the field. Empty args leave out untouched (defaults).
func DecodeArgs(args json.RawMessage, out any) error {
	if len(args) == 0 || string(args) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytesReader(args))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}
