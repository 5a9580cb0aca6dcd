// Package nodelifecycle watches node heartbeats and reacts to dead or sick
// nodes.
//
// Every MonitorPeriod it takes each node's last heartbeat (the newest of its
// Lease renewTime in kube-node-lease and its Ready condition's
// lastHeartbeatTime); a node silent for longer than GracePeriod gets all its
// conditions set to Unknown and its pods marked not ready. Node conditions
// are mirrored into taints: NoSchedule taints for the scheduler and, for
// not-ready/unreachable nodes, NoExecute taints (applied through a per-zone
// token bucket when a zone looks largely broken). The taint manager deletes
// pods that do not tolerate a node's NoExecute taints, honouring
// tolerationSeconds.
package nodelifecycle
