package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Leader election defaults (upstream's component-base values).
const (
	DefaultLeaseName      = "skiff-scheduler"
	DefaultLeaseNamespace = "kube-system"
	defaultLeaseDuration  = 15 * time.Second
	defaultRenewDeadline  = 10 * time.Second
	defaultRetryPeriod    = 2 * time.Second
)

// errLostLease ends Run when another instance took over: continuing would
// risk two schedulers binding against the same capacity.
var errLostLease = errors.New("scheduler: lost leader election lease")

func (s *Scheduler) runWithLeaderElection(ctx context.Context) error {
	ns, name, id := s.opts.LeaseNamespace, s.opts.LeaseName, s.opts.Identity
	le := s.cfg.leaderElection
	lease, renew, retry := defaultLeaseDuration, defaultRenewDeadline, defaultRetryPeriod
	if le != nil {
		if le.ResourceNamespace != "" && ns == "" {
			ns = le.ResourceNamespace
		}
		if le.ResourceName != "" && name == "" {
			name = le.ResourceName
		}
		if le.LeaseDuration.Duration > 0 {
			lease = le.LeaseDuration.Duration
		}
		if le.RenewDeadline.Duration > 0 {
			renew = le.RenewDeadline.Duration
		}
		if le.RetryPeriod.Duration > 0 {
			retry = le.RetryPeriod.Duration
		}
	}
	if ns == "" {
		ns = DefaultLeaseNamespace
	}
	if name == "" {
		name = DefaultLeaseName
	}
	if id == "" {
		host, _ := os.Hostname()
		id = host + "_" + uuid.NewString()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1ObjectMeta(ns, name),
		Client:     s.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id, EventRecorder: s.recorder},
	}
	// The elector only signals; the loop runs here so that Run returns
	// after it has drained (bindings in flight), never before.
	var runErr error
	leading := make(chan context.Context, 1)
	ledCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: lease, RenewDeadline: renew, RetryPeriod: retry,
		ReleaseOnCancel: true, Name: name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(c context.Context) { leading <- c },
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					runErr = errLostLease
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	electorDone := make(chan struct{})
	go func() {
		defer close(electorDone)
		elector.Run(ledCtx)
	}()
	var loopErr error
	select {
	case c := <-leading:
		klog.FromContext(ctx).Info("acquired scheduler lease", "lease", ns+"/"+name, "identity", id)
		loopErr = s.loop(c) // c ends when the lease is lost or ctx is done
	case <-electorDone:
	}
	cancel()
	<-electorDone
	return errors.Join(runErr, loopErr)
}
