package plugins

import "github.com/skiff-sh/skiff/internal/scheduler/framework"

// InTree returns a fresh registry of every built-in plugin.
func InTree() framework.Registry {
	return framework.Registry{
		NodeNameName:           NewNodeName,
		NodeUnschedulableName:  NewNodeUnschedulable,
		NodePortsName:          NewNodePorts,
		NodeResourcesFitName:   NewNodeResourcesFit,
		BalancedAllocationName: NewBalancedAllocation,
		NodeAffinityName:       NewNodeAffinity,
		TaintTolerationName:    NewTaintToleration,
		ImageLocalityName:      NewImageLocality,
		PodTopologySpreadName:  NewPodTopologySpread,
		InterPodAffinityName:   NewInterPodAffinity,
		DefaultPreemptionName:  NewDefaultPreemption,
		DefaultBinderName:      NewDefaultBinder,
	}
}

// DefaultPlugins is the default profile, in upstream's order: cheap,
// decisive filters first. Each plugin is enabled at every extension point
// it implements ("multiPoint"); Weight is its score weight. User
// preferences (affinity, taints, spreading) weigh more than resource
// balance so that they are not drowned by it.
func DefaultPlugins() []framework.PluginRef {
	return []framework.PluginRef{
		{Name: NodeUnschedulableName},
		{Name: NodeNameName},
		{Name: TaintTolerationName, Weight: 3},
		{Name: NodeAffinityName, Weight: 2},
		{Name: NodePortsName},
		{Name: NodeResourcesFitName, Weight: 1},
		{Name: PodTopologySpreadName, Weight: 2},
		{Name: InterPodAffinityName, Weight: 2},
		{Name: DefaultPreemptionName},
		{Name: BalancedAllocationName, Weight: 1},
		{Name: ImageLocalityName, Weight: 1},
		{Name: DefaultBinderName},
	}
}
