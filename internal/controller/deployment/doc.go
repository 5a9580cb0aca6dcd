// Package deployment rolls Deployments out through ReplicaSets.
//
// Each distinct pod template gets one ReplicaSet named
// "<deployment>-<pod-template-hash>"; the controller scales the new one up and
// the old ones down according to the strategy (RollingUpdate with maxSurge and
// maxUnavailable, or Recreate), keeps the deployment.kubernetes.io/revision
// annotation moving to whichever ReplicaSet is current (so `kubectl rollout
// undo` works by just restoring an old template), prunes history beyond
// revisionHistoryLimit and reports status and the Available/Progressing
// conditions that `kubectl rollout status` waits on.
package deployment
