package controllermanager

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/controller/bootstrap"
	"github.com/skiff-sh/skiff/internal/controller/certificates"
	"github.com/skiff-sh/skiff/internal/controller/clusterroleaggregation"
	"github.com/skiff-sh/skiff/internal/controller/cronjob"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/daemonset"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/disruption"
	"github.com/skiff-sh/skiff/internal/controller/endpoints"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/job"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/controller/rootcacertpublisher"
	"github.com/skiff-sh/skiff/internal/controller/serviceaccount"
	"github.com/skiff-sh/skiff/internal/controller/statefulset"
	"github.com/skiff-sh/skiff/internal/controller/ttlafterfinished"
)

// errSkipped marks a controller that cannot run with the given options.
var errSkipped = errors.New("skipped")

type buildDeps struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	opts    Options
	common  ctrlutil.Common
}

// constructor builds a controller (registering its informers) and returns
// its run function. Construction must not start goroutines.
type constructor func(d buildDeps) (func(context.Context), error)

var registry = map[string]constructor{
	"replicaset": func(d buildDeps) (func(context.Context), error) {
		c := replicaset.New(d.client, d.factory, replicaset.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"replicationcontroller": func(d buildDeps) (func(context.Context), error) {
		c := replicaset.NewReplicationManager(d.client, d.factory, replicaset.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"deployment": func(d buildDeps) (func(context.Context), error) {
		c := deployment.New(d.client, d.factory, deployment.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"nodelifecycle": func(d buildDeps) (func(context.Context), error) {
		c := nodelifecycle.New(d.client, d.factory, nodelifecycle.Options{Common: d.common,
			MonitorPeriod: d.opts.NodeMonitorPeriod, GracePeriod: d.opts.NodeMonitorGracePeriod})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"nodeipam": func(d buildDeps) (func(context.Context), error) {
		c, err := nodeipam.New(d.client, d.factory, nodeipam.Options{Common: d.common,
			ClusterCIDR: d.opts.ClusterCIDR, NodeCIDRMaskSize: d.opts.NodeCIDRMaskSize})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) { c.Run(ctx, 1) }, nil
	},
	"endpoints": func(d buildDeps) (func(context.Context), error) {
		c := endpoints.New(d.client, d.factory, endpoints.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"endpointslice": func(d buildDeps) (func(context.Context), error) {
		c := endpointslice.New(d.client, d.factory, endpointslice.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"serviceaccount": func(d buildDeps) (func(context.Context), error) {
		c := serviceaccount.New(d.client, d.factory, serviceaccount.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, 1) }, nil
	},
	"root-ca-cert-publisher": func(d buildDeps) (func(context.Context), error) {
		if len(d.opts.RootCA) == 0 {
			return nil, fmt.Errorf("%w: needs Options.RootCA", errSkipped)
		}
		c := rootcacertpublisher.New(d.client, d.factory, rootcacertpublisher.Options{Common: d.common, RootCA: d.opts.RootCA})
		return func(ctx context.Context) { c.Run(ctx, 1) }, nil
	},
	"garbagecollector": func(d buildDeps) (func(context.Context), error) {
		if d.opts.Metadata == nil {
			return nil, fmt.Errorf("%w: needs Options.Metadata", errSkipped)
		}
		c := garbagecollector.New(d.opts.Metadata, garbagecollector.Options{Common: d.common, ResyncPeriod: d.opts.ResyncPeriod})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"namespace": func(d buildDeps) (func(context.Context), error) {
		if d.opts.Metadata == nil {
			return nil, fmt.Errorf("%w: needs Options.Metadata", errSkipped)
		}
		c := namespace.New(d.client, d.opts.Metadata, d.factory, namespace.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"daemonset": func(d buildDeps) (func(context.Context), error) {
		c := daemonset.New(d.client, d.factory, daemonset.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"statefulset": func(d buildDeps) (func(context.Context), error) {
		c := statefulset.New(d.client, d.factory, statefulset.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"job": func(d buildDeps) (func(context.Context), error) {
		c := job.New(d.client, d.factory, job.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"ttlafterfinished": func(d buildDeps) (func(context.Context), error) {
		c := ttlafterfinished.New(d.client, d.factory, ttlafterfinished.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"cronjob": func(d buildDeps) (func(context.Context), error) {
		c := cronjob.New(d.client, d.factory, cronjob.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"disruption": func(d buildDeps) (func(context.Context), error) {
		c := disruption.New(d.client, d.factory, disruption.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"clusterroleaggregation": func(d buildDeps) (func(context.Context), error) {
		c := clusterroleaggregation.New(d.client, d.factory, clusterroleaggregation.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, 1) }, nil
	},
	"tokencleaner": func(d buildDeps) (func(context.Context), error) {
		c := bootstrap.NewTokenCleaner(d.client, d.factory, bootstrap.TokenCleanerOptions{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, 1) }, nil
	},
	"csrapproving": func(d buildDeps) (func(context.Context), error) {
		c := certificates.NewApprover(d.client, d.factory, certificates.ApproverOptions{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"csrsigning": func(d buildDeps) (func(context.Context), error) {
		if d.opts.ClusterSigningCertFile == "" || d.opts.ClusterSigningKeyFile == "" {
			return nil, fmt.Errorf("%w: needs --cluster-signing-cert-file and --cluster-signing-key-file", errSkipped)
		}
		ca, err := auth.LoadCA(d.opts.ClusterSigningCertFile, d.opts.ClusterSigningKeyFile)
		if err != nil {
			return nil, err
		}
		c := certificates.NewSigner(d.client, d.factory, certificates.SignerOptions{Common: d.common,
			CA: ca, MaxDuration: d.opts.ClusterSigningDuration})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
	"csrcleaner": func(d buildDeps) (func(context.Context), error) {
		c := certificates.NewCleaner(d.client, d.factory, certificates.CleanerOptions{Common: d.common})
		return c.Run, nil
	},
	"podgc": func(d buildDeps) (func(context.Context), error) {
		c := podgc.New(d.client, d.factory, podgc.Options{Common: d.common})
		return func(ctx context.Context) { c.Run(ctx, d.opts.ConcurrentSyncs) }, nil
	},
}
