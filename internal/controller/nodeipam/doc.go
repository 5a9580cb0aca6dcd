// Package nodeipam gives every node a pod CIDR: the next free
// /NodeCIDRMaskSize block of ClusterCIDR, written to spec.podCIDR and
// spec.podCIDRs. The set of used blocks is rebuilt from the nodes at start
// and a block is released when its node is deleted.
package nodeipam
