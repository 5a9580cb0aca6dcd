package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	policylisters "k8s.io/client-go/listers/policy/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// DefaultPreemptionName is the plugin's name.
const DefaultPreemptionName = "DefaultPreemption"

// Messages of the preemption outcome (they follow "preemption: " in the
// FailedScheduling event, like upstream).
const (
	ReasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	ReasonNoVictims            = "No preemption victims found for incoming pod"
	msgPreemptNever            = "not eligible due to preemptionPolicy=Never."
	msgTerminatingOnNominated  = "not eligible due to a terminating pod on the nominated node."
)

// DefaultPreemption makes room for a pod that fits nowhere by evicting
// lower-priority pods: on every node that failed for a reason eviction can
// fix, it removes all lower-priority pods, checks the pod then fits, and
// adds back as many of them as still allow it (highest priority first,
// PodDisruptionBudget-protected ones before others). The node needing the
// least damage wins; its victims are deleted and the pod is nominated to it.
type DefaultPreemption struct {
	h   framework.Handle
	pdb policylisters.PodDisruptionBudgetLister
}

// NewDefaultPreemption is the plugin factory.
func NewDefaultPreemption(raw json.RawMessage, h framework.Handle) (framework.Plugin, error) {
	var args struct {
		MinCandidateNodesPercentage int32 `json:"minCandidateNodesPercentage,omitempty"`
		MinCandidateNodesAbsolute   int32 `json:"minCandidateNodesAbsolute,omitempty"`
	}
	if err := framework.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	p := &DefaultPreemption{h: h}
	if f := h.SharedInformerFactory(); f != nil {
		p.pdb = f.Policy().V1().PodDisruptionBudgets().Lister()
	}
	return p, nil
}

func (*DefaultPreemption) Name() string { return DefaultPreemptionName }

// Candidate is a node with the pods that must go for the preemptor to fit.
type Candidate struct {
	Node          string
	Victims       []*v1.Pod
	PDBViolations int
}

func (p *DefaultPreemption) PostFilter(ctx context.Context, state *framework.CycleState, pod *v1.Pod, statuses framework.NodeStatuses) (*framework.PostFilterResult, *framework.Status) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: "+msgPreemptNever)
	}
	if p.waitingForVictims(pod) {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: "+msgTerminatingOnNominated)
	}
	best, msg := p.FindCandidate(ctx, state, pod, statuses)
	if best == nil {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: "+msg)
	}
	if err := p.evict(ctx, pod, best); err != nil {
		return nil, framework.AsStatus(err)
	}
	return &framework.PostFilterResult{NominatedNodeName: best.Node}, nil
}

// waitingForVictims: a pod already nominated to a node where lower-priority
// pods are still terminating waits for them instead of preempting again.
func (p *DefaultPreemption) waitingForVictims(pod *v1.Pod) bool {
	nn := pod.Status.NominatedNodeName
	if nn == "" {
		return false
	}
	ni := p.h.SnapshotSharedLister().Get(nn)
	if ni == nil {
		return false
	}
	prio := corev1helpers.PodPriority(pod)
	for _, pi := range ni.Pods {
		if podIsTerminating(pi.Pod) && corev1helpers.PodPriority(pi.Pod) < prio {
			return true
		}
	}
	return false
}

// FindCandidate evaluates every node where preemption could help and
// returns the best candidate, or nil with the explanation.
func (p *DefaultPreemption) FindCandidate(ctx context.Context, state *framework.CycleState, pod *v1.Pod, statuses framework.NodeStatuses) (*Candidate, string) {
	all := p.h.SnapshotSharedLister().List()
	var nodes []*framework.NodeInfo
	for _, ni := range all {
		if statuses.Get(ni.Name()).Code() != framework.UnschedulableAndUnresolvable {
			nodes = append(nodes, ni)
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Sprintf("0/%d nodes are available: %d %s.", len(all), len(all), ReasonPreemptionNotHelpful)
	}
	pdbs := p.listPDBs(pod)
	found := make([]*Candidate, len(nodes))
	p.h.Parallelizer().Until(ctx, len(nodes), func(i int) {
		found[i] = p.selectVictims(ctx, state.Clone(), pod, nodes[i].Clone(), pdbs)
	})
	var cands []*Candidate
	for _, c := range found {
		if c != nil {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		parts := []string{fmt.Sprintf("%d %s", len(nodes), ReasonNoVictims)}
		if n := len(all) - len(nodes); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, ReasonPreemptionNotHelpful))
		}
		sort.Strings(parts)
		return nil, fmt.Sprintf("0/%d nodes are available: %s.", len(all), strings.Join(parts, ", "))
	}
	return pickCandidate(cands), ""
}

func (p *DefaultPreemption) listPDBs(pod *v1.Pod) []*policyv1.PodDisruptionBudget {
	if p.pdb == nil {
		return nil
	}
	list, err := p.pdb.List(labels.Everything())
	if err != nil {
		return nil
	}
	return list
}

// selectVictims works on private copies of the node and the cycle state.
func (p *DefaultPreemption) selectVictims(ctx context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo, pdbs []*policyv1.PodDisruptionBudget) *Candidate {
	prio := corev1helpers.PodPriority(pod)
	var lower []*framework.PodInfo
	for _, pi := range ni.Pods {
		if corev1helpers.PodPriority(pi.Pod) < prio {
			lower = append(lower, pi)
		}
	}
	if len(lower) == 0 {
		return nil
	}
	for _, pi := range lower {
		ni.RemovePod(pi.Pod.UID)
		if s := p.h.RunPreFilterExtensionRemovePod(ctx, state, pod, pi, ni); !s.IsSuccess() {
			return nil
		}
	}
	if !p.h.RunFilterPlugins(ctx, state, pod, ni).IsSuccess() {
		return nil
	}
	// Try to keep the most important pods: highest priority first, and
	// among equals the longest running.
	sort.SliceStable(lower, func(i, j int) bool {
		pi, pj := corev1helpers.PodPriority(lower[i].Pod), corev1helpers.PodPriority(lower[j].Pod)
		if pi != pj {
			return pi > pj
		}
		return startTime(lower[i].Pod).Before(startTime(lower[j].Pod))
	})
	violating, ok := splitByPDB(lower, pdbs)
	c := &Candidate{Node: ni.Name()}
	reprieve := func(pi *framework.PodInfo) bool {
		ni.AddPod(pi)
		p.h.RunPreFilterExtensionAddPod(ctx, state, pod, pi, ni)
		if p.h.RunFilterPlugins(ctx, state, pod, ni).IsSuccess() {
			return true
		}
		ni.RemovePod(pi.Pod.UID)
		p.h.RunPreFilterExtensionRemovePod(ctx, state, pod, pi, ni)
		c.Victims = append(c.Victims, pi.Pod)
		return false
	}
	for _, pi := range violating {
		if !reprieve(pi) {
			c.PDBViolations++
		}
	}
	for _, pi := range ok {
		reprieve(pi)
	}
	if len(c.Victims) == 0 {
		return nil // fits without evicting anyone: not a preemption case
	}
	return c
}

func startTime(p *v1.Pod) *metav1.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime
	}
	return &p.CreationTimestamp
}

// splitByPDB separates pods whose eviction would exceed a budget's allowed
// disruptions (counting the earlier pods in the list against the budget).
func splitByPDB(pods []*framework.PodInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, ok []*framework.PodInfo) {
	allowed := make([]int32, len(pdbs))
	for i, b := range pdbs {
		allowed[i] = b.Status.DisruptionsAllowed
	}
	for _, pi := range pods {
		bad := false
		for i, b := range pdbs {
			if b.Namespace != pi.Pod.Namespace {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(pi.Pod.Labels)) {
				continue
			}
			if _, already := b.Status.DisruptedPods[pi.Pod.Name]; already {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				bad = true
			}
		}
		if bad {
			violating = append(violating, pi)
		} else {
			ok = append(ok, pi)
		}
	}
	return violating, ok
}

// pickCandidate: fewest PDB violations, then the lowest top victim
// priority, then the lowest priority sum, then the fewest victims.
func pickCandidate(cs []*Candidate) *Candidate {
	type key struct {
		pdb      int
		top, sum int64
		n        int
	}
	k := func(c *Candidate) key {
		kk := key{pdb: c.PDBViolations, n: len(c.Victims), top: -1 << 62}
		for _, v := range c.Victims {
			pr := int64(corev1helpers.PodPriority(v))
			kk.top = max(kk.top, pr)
			kk.sum += pr + (1 << 31) // shift so negative priorities still add up monotonically
		}
		return kk
	}
	less := func(a, b key) bool {
		if a.pdb != b.pdb {
			return a.pdb < b.pdb
		}
		if a.top != b.top {
			return a.top < b.top
		}
		if a.sum != b.sum {
			return a.sum < b.sum
		}
		return a.n < b.n
	}
	best, bk := cs[0], k(cs[0])
	for _, c := range cs[1:] {
		if ck := k(c); less(ck, bk) {
			best, bk = c, ck
		}
	}
	return best
}

// evict deletes the victims (with their default grace period) and records
// why, so users see who displaced their pod.
func (p *DefaultPreemption) evict(ctx context.Context, preemptor *v1.Pod, c *Candidate) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Victims))
	for i, v := range c.Victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.h.ClientSet().CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs[i] = err
				return
			}
			if r := p.h.EventRecorder(); r != nil {
				r.Eventf(v, v1.EventTypeNormal, "Preempted", "Preempted by pod %s/%s on node %s", preemptor.Namespace, preemptor.Name, c.Node)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("preemption: deleting victim: %w", err)
		}
	}
	return nil
}
