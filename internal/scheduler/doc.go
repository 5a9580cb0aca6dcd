// Package scheduler is Skiff's kube-scheduler: it assigns pending pods to
// nodes, talking to the cluster only through the Kubernetes API (client-go
// informers to watch, POST pods/<name>/binding to place, events and
// pods/status patches to explain).
//
// # Shape
//
//	informers ──▶ SchedulingQueue ──Pop──▶ scheduleOne (one goroutine)
//	    │                                    │  Cache.UpdateSnapshot
//	    └────────▶ Cache ──────────────▶ Snapshot ──▶ framework: PreFilter,
//	                 ▲                              Filter ∥, PostFilter,
//	                 │ AssumePod                    PreScore, Score ∥, Reserve,
//	                 └──────────────────────────── Permit
//	                                          go bindingCycle: PreBind, Bind,
//	                                          event, PostBind
//
// Queue (queue.go). Pending pods whose spec.schedulerName names one of our
// profiles sit in an active heap (spec.priority desc, then arrival), a
// backoff heap (1 s doubling to 10 s per attempt; podInitialBackoffSeconds /
// podMaxBackoffSeconds) or the unschedulable set. Cluster events that can
// make a pod fit (node added or changed, pod deleted, binding failed) move
// unschedulable pods back; so does a 5 minute timeout. Pods with
// schedulingGates wait until the gates are gone. One mutex and a condition
// variable guard it.
//
// Cache (cache.go, snapshot.go). Per-node NodeInfo (allocatable, requested
// resources, host ports, images, labels, taints, pods with affinity) built
// from the pod and node informers. A scheduled pod is *assumed* at once, so
// the next cycle sees its node as used, and bound asynchronously; the
// informer confirms it, a failed bind forgets it, and an assumption never
// confirmed expires after 30 s. Each cycle works on a Snapshot that the
// cache refreshes incrementally: only nodes whose generation moved are
// copied, so filter and score run lock-free on immutable data.
//
// Framework (framework/). One small interface per extension point
// (PreFilterPlugin, FilterPlugin, PostFilterPlugin, PreScorePlugin,
// ScorePlugin + ScoreNormalizer, ReservePlugin, PermitPlugin, PreBindPlugin,
// BindPlugin, PostBindPlugin) and a CycleState. Filter and Score fan out
// over nodes on a pool of Parallelism workers (default 16). Filtering stops
// once enough feasible nodes are found (percentageOfNodesToScore; adaptive
// by default: 50% − nodes/125, at least 5%, never fewer than 100 nodes),
// starting where the previous cycle stopped. Every rejection carries the
// user-facing reason; FitError counts them per node for the
// FailedScheduling event, in upstream's wording and order.
//
// Plugins (plugins/, one file each): NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit
// (LeastAllocated / MostAllocated / RequestedToCapacityRatio),
// PodTopologySpread, InterPodAffinity, NodeResourcesBalancedAllocation,
// ImageLocality, DefaultPreemption and DefaultBinder, enabled with
// upstream's default weights (TaintToleration 3, NodeAffinity 2,
// PodTopologySpread 2, InterPodAffinity 2, the others 1).
//
// # Configuration
//
// Options.ConfigFile takes a KubeSchedulerConfiguration
// (kubescheduler.config.k8s.io/v1): profiles[].schedulerName,
// profiles[].plugins.<point>.{enabled,disabled}[{name,weight}] (and
// multiPoint), profiles[].pluginConfig[{name,args}],
// percentageOfNodesToScore, parallelism, pod backoff, leaderElection and
// HTTP extenders (filter/prioritize verbs, upstream JSON). Parsing is
// strict; errors name the field, e.g.
//
//	profiles[0].plugins.score.enabled[1].name: unknown plugin "Foo"
//
// # Writing a plugin
//
// Implement Name plus the extension-point methods you need, write a
// framework.Factory that decodes your args with framework.DecodeArgs, pass
// it in Options.Registry and enable it in the config file. Score must be
// safe for concurrent calls and return 0–100 (or implement NormalizeScore).
// plugins/example (PreferLabel) is a complete, documented example.
//
// # Throughput
//
// The scheduling goroutine never waits for the API: binding, events and
// status patches run in goroutines. Build the client with a high QPS/Burst
// (client-go's default of 5 QPS would cap scheduling at a few pods/s).
package scheduler
