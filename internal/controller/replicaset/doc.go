// Package replicaset keeps the number of pods owned by each ReplicaSet (and,
// through the same code, each ReplicationController) equal to spec.replicas.
//
// It adopts orphan pods matching the selector, releases owned pods that no
// longer match, creates missing pods in slow-start batches and deletes the
// least valuable surplus pods first. Creations and deletions are tracked as
// expectations so a lagging informer never causes double work.
package replicaset
