// Package statefulset gives each StatefulSet a set of pods with stable names
// <set>-<ordinal>, stable network identity (hostname and the governing
// Service's subdomain) and ordered lifecycle.
//
// With OrderedReady pod management, pod N is created only when pods 0..N-1
// are Running and Ready, and scale-down removes the highest ordinal first, one
// at a time. Parallel management creates and deletes without waiting. Template
// changes are recorded as ControllerRevisions; RollingUpdate replaces pods from
// the highest ordinal down to spec.updateStrategy.rollingUpdate.partition, one
// at a time, waiting for each replacement to be Ready. OnDelete only uses the
// new revision for pods the user deletes.
//
// volumeClaimTemplates: a PVC "<claim>-<set>-<ordinal>" is created (if absent)
// before each pod and mounted as a volume; retention policies and PVC
// deletion are not implemented (claims are always retained).
package statefulset
