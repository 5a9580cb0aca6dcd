// Package stats holds the JSON shape of the kubelet's /stats/summary: a minimal
// subset of upstream's stats/v1alpha1 Summary with the same field names, so
// tools that read node, pod and container CPU/memory find them where they expect.
package stats

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Summary is the node and its pods.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats names the node; StartTime is when the kubelet started.
type NodeStats struct {
	NodeName  string      `json:"nodeName"`
	StartTime metav1.Time `json:"startTime"`
}

// PodReference identifies a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// PodStats is one pod with its containers.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	StartTime  metav1.Time      `json:"startTime"`
	Containers []ContainerStats `json:"containers"`
}

// ContainerStats is one running container's usage, zero when the runtime
// does not report it.
type ContainerStats struct {
	Name      string      `json:"name"`
	StartTime metav1.Time `json:"startTime"`
	CPU       *CPUStats   `json:"cpu,omitempty"`
	Memory    *MemStats   `json:"memory,omitempty"`
}

// CPUStats: cumulative CPU time in nanoseconds.
type CPUStats struct {
	Time                 metav1.Time `json:"time"`
	UsageCoreNanoSeconds uint64      `json:"usageCoreNanoSeconds"`
}

// MemStats: the working set is what the OOM killer and eviction look at.
type MemStats struct {
	Time            metav1.Time `json:"time"`
	WorkingSetBytes uint64      `json:"workingSetBytes"`
}
