package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// MonitorNodes runs one pass over all nodes. Run calls it every
// MonitorPeriod; tests call it directly with a fake clock.
func (c *Controller) MonitorNodes(ctx context.Context) error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	updated := make([]*corev1.Node, 0, len(nodes))
	for _, n := range nodes {
		u, err := c.checkHeartbeat(ctx, n)
		if err != nil {
			errs = append(errs, err)
			u = n
		}
		updated = append(updated, u)
	}
	limited := c.disruptedZones(updated)
	for _, n := range updated {
		if err := c.reconcileTaints(ctx, n, limited[zoneOf(n)]); err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

func zoneOf(n *corev1.Node) string { return n.Labels[ZoneLabel] }

func condition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// heartbeat is the newest sign of life: the Lease renewal, the Ready
// condition's heartbeat, or (for a node that never reported) its creation.
func (c *Controller) heartbeat(n *corev1.Node) time.Time {
	hb := n.CreationTimestamp.Time
	if r := condition(n, corev1.NodeReady); r != nil && r.LastHeartbeatTime.After(hb) {
		hb = r.LastHeartbeatTime.Time
	}
	if l := c.lease(n.Name); l != nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(hb) {
		hb = l.Spec.RenewTime.Time
	}
	return hb
}

// checkHeartbeat turns every condition of a silent node Unknown and marks its
// pods not ready. It returns the node as it now is.
func (c *Controller) checkHeartbeat(ctx context.Context, n *corev1.Node) (*corev1.Node, error) {
	now := c.opts.Clock.Now()
	if now.Sub(c.heartbeat(n)) <= c.opts.GracePeriod {
		return n, nil
	}
	cp := n.DeepCopy()
	changed := false
	wasReady := false
	if r := condition(cp, corev1.NodeReady); r == nil {
		cp.Status.Conditions = append(cp.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
			Message: "Kubelet never posted node status.", LastTransitionTime: metav1.NewTime(now), LastHeartbeatTime: n.CreationTimestamp})
		changed = true
	} else {
		wasReady = r.Status == corev1.ConditionTrue
	}
	for i := range cp.Status.Conditions {
		cond := &cp.Status.Conditions[i]
		if cond.Status == corev1.ConditionUnknown {
			continue
		}
		cond.Status = corev1.ConditionUnknown
		cond.Reason = "NodeStatusUnknown"
		cond.Message = "Kubelet stopped posting node status."
		cond.LastTransitionTime = metav1.NewTime(now)
		changed = true
	}
	if changed {
		u, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("nodelifecycle: mark %s unknown: %w", n.Name, err)
		}
		cp = u
		if wasReady {
			c.opts.Recorder.Eventf(nodeRef(n), corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", n.Name)
		}
	}
	return cp, c.markPodsNotReady(ctx, n.Name)
}

func nodeRef(n *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID}
}

// markPodsNotReady flips Ready to False on the pods of an unreachable node:
// nobody else will, and Services must stop sending them traffic.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) error {
	objs, err := c.podIndexer.ByIndex(podNodeIndex, node)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if !ctrlutil.IsPodReady(p) {
			continue
		}
		cp := p.DeepCopy()
		now := metav1.NewTime(c.opts.Clock.Now())
		for i := range cp.Status.Conditions {
			if cp.Status.Conditions[i].Type == corev1.PodReady {
				cp.Status.Conditions[i].Status = corev1.ConditionFalse
				cp.Status.Conditions[i].LastTransitionTime = now
				cp.Status.Conditions[i].Reason = "NodeNotReady"
			}
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// disruptedZones reports the zones where more than two nodes and at least
// UnhealthyZoneThreshold of them are not ready; NoExecute tainting there is
// rate limited.
func (c *Controller) disruptedZones(nodes []*corev1.Node) map[string]bool {
	total, bad := map[string]int{}, map[string]int{}
	for _, n := range nodes {
		z := zoneOf(n)
		total[z]++
		if r := condition(n, corev1.NodeReady); r == nil || r.Status != corev1.ConditionTrue {
			bad[z]++
		}
	}
	out := map[string]bool{}
	for z, t := range total {
		out[z] = bad[z] > 2 && float64(bad[z])/float64(t) >= c.opts.UnhealthyZoneThreshold
	}
	return out
}

func (c *Controller) limiter(zone string) flowcontrol.PassiveRateLimiter {
	l, ok := c.zoneLimiters[zone]
	if !ok {
		l = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(c.opts.LimitedTaintQPS, 1, c.opts.Clock)
		c.zoneLimiters[zone] = l
	}
	return l
}

// wantedTaints derives the managed taints from the node's conditions.
func wantedTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	add := func(key string, effect corev1.TaintEffect) {
		out = append(out, corev1.Taint{Key: key, Effect: effect})
	}
	if r := condition(n, corev1.NodeReady); r != nil {
		switch r.Status {
		case corev1.ConditionFalse:
			add(TaintNotReady, corev1.TaintEffectNoSchedule)
			add(TaintNotReady, corev1.TaintEffectNoExecute)
		case corev1.ConditionUnknown:
			add(TaintUnreachable, corev1.TaintEffectNoSchedule)
			add(TaintUnreachable, corev1.TaintEffectNoExecute)
		}
	} else {
		add(TaintNotReady, corev1.TaintEffectNoSchedule) // never reported: not ready yet
	}
	for t, key := range map[corev1.NodeConditionType]string{
		corev1.NodeMemoryPressure: TaintMemoryPressure, corev1.NodeDiskPressure: TaintDiskPressure,
		corev1.NodePIDPressure: TaintPIDPressure, corev1.NodeNetworkUnavailable: TaintNetworkUnavailable,
	} {
		if cond := condition(n, t); cond != nil && cond.Status == corev1.ConditionTrue {
			add(key, corev1.TaintEffectNoSchedule)
		}
	}
	if n.Spec.Unschedulable {
		add(TaintUnschedulable, corev1.TaintEffectNoSchedule)
	}
	return out
}

func managed(key string) bool {
	switch key {
	case TaintNotReady, TaintUnreachable, TaintUnschedulable, TaintMemoryPressure,
		TaintDiskPressure, TaintPIDPressure, TaintNetworkUnavailable:
		return true
	}
	return false
}

// reconcileTaints makes the managed taints match the wanted ones, keeping
// user taints and the timeAdded of taints that stay.
func (c *Controller) reconcileTaints(ctx context.Context, n *corev1.Node, limited bool) error {
	want := wantedTaints(n)
	has := func(list []corev1.Taint, t corev1.Taint) *corev1.Taint {
		for i := range list {
			if list[i].Key == t.Key && list[i].Effect == t.Effect {
				return &list[i]
			}
		}
		return nil
	}
	now := metav1.NewTime(c.opts.Clock.Now())
	var next []corev1.Taint
	changed := false
	for _, t := range n.Spec.Taints {
		if managed(t.Key) && has(want, t) == nil {
			changed = true // condition cleared: drop the taint
			continue
		}
		next = append(next, t)
	}
	for _, t := range want {
		if has(n.Spec.Taints, t) != nil {
			continue
		}
		if t.Effect == corev1.TaintEffectNoExecute {
			if limited && !c.limiter(zoneOf(n)).TryAccept() {
				continue // next monitor pass retries
			}
			t.TimeAdded = &now
		}
		next = append(next, t)
		changed = true
	}
	if !changed {
		return nil
	}
	cp := n.DeepCopy()
	cp.Spec.Taints = next
	_, err := c.client.CoreV1().Nodes().Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("nodelifecycle: taint %s: %w", n.Name, err)
	}
	return nil
}
