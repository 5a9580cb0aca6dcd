// Package daemonset runs one pod of each DaemonSet on every eligible node.
//
// A node is eligible when the pod template's nodeSelector and required node
// affinity match it and its NoSchedule/NoExecute taints are tolerated (daemon
// pods get the default tolerations upstream adds). Pods are created unbound
// with a required node affinity on metadata.name, so the scheduler binds each
// to its node. Template changes are recorded as ControllerRevisions and rolled
// out per spec.updateStrategy (RollingUpdate with maxUnavailable, or OnDelete).
package daemonset
