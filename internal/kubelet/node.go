package kubelet

import (
	"context"
	"encoding/json"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// KubeletVersion is what nodes report as status.nodeInfo.kubeletVersion: the
// Kubernetes API version Skiff follows.
const KubeletVersion = "v1.37.2-skiff"

// heartbeat owns the Node object and its Lease: registration, the status
// (computed every StatusPeriod or when something changes, written as a patch only
// when it changed or StatusReportPeriod has passed), the Lease every LeasePeriod,
// and the CNI config once the node has a podCIDR. Like upstream's kubelet, it
// keeps what it last wrote so steady state costs one Lease update per period and
// no reads: at 5,000 nodes a read before every write doubles the API's load.
type heartbeat struct {
	cfg     Config
	machine *MachineInfo
	network *networkState
	nodes   cache.SharedIndexInformer
	runtime string // "containerd://1.6.20"
	nodeUID string
	podCIDR string // last one given to a PodCIDRUpdater runtime
	// eviction publishes the pressure conditions; it pokes wake when they change
	// so the status is written without waiting for the next tick.
	eviction *evictionManager
	wake     chan struct{}
	// lease is the Lease as last written (nil: read it before the next renewal).
	lease *coordinationv1.Lease
	// lastReport is when the status was last written.
	lastReport time.Time
}

func newHeartbeat(ctx context.Context, cfg Config, network *networkState) (*heartbeat, error) {
	return &heartbeat{cfg: cfg, machine: cfg.Machine, network: network, wake: make(chan struct{}, 1)}, nil
}

// register creates the Node, or adopts an existing one of the same name, retrying
// until the API answers.
func (h *heartbeat) register(ctx context.Context) error {
	if v, err := h.cfg.Runtime.Version(ctx); err == nil {
		h.runtime = v.RuntimeName + "://" + v.RuntimeVersion
	}
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		node := h.initialNode()
		created, err := h.cfg.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			created, err = h.cfg.Client.CoreV1().Nodes().Get(ctx, h.cfg.NodeName, metav1.GetOptions{})
		}
		if err != nil {
			klog.FromContext(ctx).Error(err, "registering node")
			return false, nil
		}
		h.nodeUID = string(created.UID)
		if err := h.updateStatus(ctx, created); err != nil {
			klog.FromContext(ctx).Error(err, "first node status")
		}
		return true, nil
	})
}

func (h *heartbeat) initialNode() *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:   h.cfg.NodeName,
		corev1.LabelOSStable:   h.machine.OperatingSystem,
		corev1.LabelArchStable: h.machine.Architecture,
	}
	for k, v := range h.cfg.Labels {
		labels[k] = v
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h.cfg.NodeName, Labels: labels,
		Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"}}}
}

func (h *heartbeat) run(ctx context.Context) {
	status := time.NewTicker(h.cfg.StatusPeriod)
	defer status.Stop()
	lease := time.NewTicker(h.cfg.LeasePeriod)
	defer lease.Stop()
	// Node changes (podCIDR assigned, status overwritten) and pressure changes
	// wake the status loop.
	changed := h.wake
	if _, err := h.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke(changed) },
		UpdateFunc: func(any, any) { poke(changed) },
	}); err != nil {
		klog.FromContext(ctx).Error(err, "watching own node")
	}
	h.renewLease(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			h.renewLease(ctx)
		case <-status.C:
			h.syncStatus(ctx, true)
		case <-changed:
			h.syncStatus(ctx, false)
		}
	}
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// syncStatus writes the status when it changed, or on a periodic tick once
// StatusReportPeriod has passed since the last write (the Lease carries the
// heartbeat in between).
func (h *heartbeat) syncStatus(ctx context.Context, periodic bool) {
	node := h.cachedNode()
	if node == nil {
		return
	}
	if err := h.network.ensure(node.Spec.PodCIDR); err != nil {
		klog.FromContext(ctx).Error(err, "writing CNI config")
	}
	if u, ok := h.cfg.Runtime.(PodCIDRUpdater); ok && node.Spec.PodCIDR != "" && node.Spec.PodCIDR != h.podCIDR {
		if err := u.UpdatePodCIDR(ctx, node.Spec.PodCIDR); err == nil {
			h.podCIDR = node.Spec.PodCIDR
		}
	}
	due := periodic && time.Since(h.lastReport) >= h.cfg.StatusReportPeriod
	if !due && sameStatus(h.desiredStatus(node, &node.Status), &node.Status) {
		return
	}
	if err := h.updateStatus(ctx, node); err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).Error(err, "updating node status")
	}
}

func (h *heartbeat) cachedNode() *corev1.Node {
	if h.nodes == nil {
		return nil
	}
	obj, ok, _ := h.nodes.GetStore().GetByKey(h.cfg.NodeName)
	if !ok {
		return nil
	}
	return obj.(*corev1.Node)
}

// sameStatus compares what the kubelet owns, ignoring heartbeat times.
func sameStatus(want, have *corev1.NodeStatus) bool {
	if len(want.Conditions) != len(have.Conditions) {
		return false
	}
	for i, c := range want.Conditions {
		h := have.Conditions[i]
		if c.Type != h.Type || c.Status != h.Status || c.Reason != h.Reason || c.Message != h.Message {
			return false
		}
	}
	return equality.Semantic.DeepEqual(want.Capacity, have.Capacity) &&
		equality.Semantic.DeepEqual(want.Allocatable, have.Allocatable) &&
		equality.Semantic.DeepEqual(want.Addresses, have.Addresses) &&
		equality.Semantic.DeepEqual(want.NodeInfo, have.NodeInfo) &&
		equality.Semantic.DeepEqual(want.DaemonEndpoints, have.DaemonEndpoints)
}

// updateStatus patches nodes/status from node (the last known object) to the
// desired status. A strategic merge patch needs no resourceVersion, so it never
// conflicts with the node controller's writes and needs no read first; if node
// was stale, the informer's next event shows the difference and wakes another sync.
func (h *heartbeat) updateStatus(ctx context.Context, node *corev1.Node) error {
	want := node.DeepCopy()
	want.Status = *h.desiredStatus(node, &node.Status)
	patch, err := statusPatch(node, want)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Client.CoreV1().Nodes().PatchStatus(ctx, h.cfg.NodeName, patch); err != nil {
		return err
	}
	h.lastReport = time.Now()
	return nil
}

// statusPatch is the two-way strategic merge patch from old to new (conditions
// merge by type, so only what changed is sent).
func statusPatch(old, new *corev1.Node) ([]byte, error) {
	oldJSON, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	newJSON, err := json.Marshal(new)
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Node{})
}

// desiredStatus is the node status this kubelet reports; prev keeps condition
// transition times stable.
func (h *heartbeat) desiredStatus(node *corev1.Node, prev *corev1.NodeStatus) *corev1.NodeStatus {
	capacity := h.machine.capacity(h.cfg.Capacity)
	st := node.Status.DeepCopy()
	st.Capacity = capacity
	st.Allocatable = capacity.DeepCopy()
	st.Phase = ""
	st.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: h.cfg.NodeIP.String()},
		{Type: corev1.NodeHostName, Address: h.cfg.NodeName},
	}
	st.DaemonEndpoints.KubeletEndpoint.Port = int32(h.cfg.Port)
	st.NodeInfo = corev1.NodeSystemInfo{
		MachineID: h.machine.MachineID, SystemUUID: h.machine.SystemUUID, BootID: h.machine.BootID,
		KernelVersion: h.machine.KernelVersion, OSImage: h.machine.OSImage,
		ContainerRuntimeVersion: h.runtime, KubeletVersion: KubeletVersion, KubeProxyVersion: "",
		OperatingSystem: h.machine.OperatingSystem, Architecture: h.machine.Architecture,
	}
	ready, reason, msg := h.readiness()
	now := metav1.Now()
	st.Conditions = append(pressureConditions(prev, h.eviction.pressure(), now),
		condition(prev, corev1.NodeReady, ready, reason, msg, now))
	return st
}

// pressureConditions are MemoryPressure, DiskPressure and PIDPressure with
// upstream's reasons and messages; the node lifecycle controller turns the True
// ones into node.kubernetes.io/*-pressure NoSchedule taints.
func pressureConditions(prev *corev1.NodeStatus, p pressure, now metav1.Time) []corev1.NodeCondition {
	pick := func(t corev1.NodeConditionType, under bool, okReason, okMsg, badReason, badMsg string) corev1.NodeCondition {
		if under {
			return condition(prev, t, corev1.ConditionTrue, badReason, badMsg, now)
		}
		return condition(prev, t, corev1.ConditionFalse, okReason, okMsg, now)
	}
	return []corev1.NodeCondition{
		pick(corev1.NodeMemoryPressure, p.memory,
			"KubeletHasSufficientMemory", "kubelet has sufficient memory available",
			"KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
		pick(corev1.NodeDiskPressure, p.disk,
			"KubeletHasNoDiskPressure", "kubelet has no disk pressure",
			"KubeletHasDiskPressure", "kubelet has disk pressure"),
		pick(corev1.NodePIDPressure, p.pid,
			"KubeletHasSufficientPID", "kubelet has sufficient PID available",
			"KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
	}
}

// readiness is Ready=True when the runtime answers and the pod network is
// configured (upstream reports "container runtime network not ready" otherwise).
func (h *heartbeat) readiness() (corev1.ConditionStatus, string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.cfg.Runtime.Version(ctx); err != nil {
		return corev1.ConditionFalse, "KubeletNotReady", "container runtime is down: " + err.Error()
	}
	if !h.network.isReady() {
		return corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:waiting for spec.podCIDR"
	}
	return corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"
}

func condition(prev *corev1.NodeStatus, t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string, now metav1.Time) corev1.NodeCondition {
	c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	if prev != nil {
		for _, p := range prev.Conditions {
			if p.Type == t && p.Status == s && !p.LastTransitionTime.IsZero() {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return c
}

// renewLease creates or renews kube-node-lease/<node>, owned by the Node so it is
// garbage collected with it. It renews from the Lease it last wrote; only when
// that fails (a conflict, the Lease deleted) does it read the Lease again.
func (h *heartbeat) renewLease(ctx context.Context) {
	leases := h.cfg.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	spec := coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(h.cfg.NodeName),
		LeaseDurationSeconds: ptr.To(int32(h.cfg.LeaseDuration / time.Second)),
		RenewTime:            &now,
	}
	if h.lease != nil {
		l := h.lease.DeepCopy()
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime
		if out, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err == nil {
			h.lease = out
			return
		}
		h.lease = nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := leases.Get(ctx, h.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: h.cfg.NodeName, Namespace: corev1.NamespaceNodeLease}, Spec: spec}
			if h.nodeUID != "" {
				l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: h.cfg.NodeName, UID: types.UID(h.nodeUID)}}
			}
			h.lease, err = leases.Create(ctx, l, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		cur.Spec.HolderIdentity, cur.Spec.LeaseDurationSeconds, cur.Spec.RenewTime = spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime
		h.lease, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		h.lease = nil
		if ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "renewing node lease")
		}
	}
}
