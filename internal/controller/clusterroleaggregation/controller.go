// Package clusterroleaggregation fills aggregated ClusterRoles: a ClusterRole
// with an aggregationRule gets, as its rules, the rules of every ClusterRole
// its label selectors match (upstream's clusterrole-aggregation controller).
// This is how admin, edit and view pick up the rules of any ClusterRole
// labelled rbac.authorization.k8s.io/aggregate-to-view=true and so on.
package clusterroleaggregation

import (
	"context"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/authz/bootstrappolicy"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Options configures the controller.
type Options struct {
	ctrlutil.Common
}

// Controller keeps aggregated ClusterRoles' rules current.
type Controller struct {
	client kubernetes.Interface
	lister rbaclisters.ClusterRoleLister
	loop   *ctrlutil.Loop
	synced []cache.InformerSynced
}

// New returns the controller; the caller starts factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	inf := factory.Rbac().V1().ClusterRoles()
	c := &Controller{client: client, lister: inf.Lister()}
	c.loop = ctrlutil.NewLoop("clusterroleaggregation", opts.Common, c.sync)
	// Any ClusterRole change may change any aggregate: re-check them all.
	enqueueAll := func(any) { c.enqueueAggregated() }
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueAll,
		UpdateFunc: func(_, cur any) { enqueueAll(cur) },
		DeleteFunc: enqueueAll,
	})
	c.synced = []cache.InformerSynced{inf.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) enqueueAggregated() {
	roles, err := c.lister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range roles {
		if r.AggregationRule != nil {
			c.loop.Queue.Add(r.Name)
		}
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	role, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	rules := bootstrappolicy.AggregatedRules(role, all)
	if rules == nil {
		rules = []rbacv1.PolicyRule{}
	}
	if equality.Semantic.DeepEqual(rules, role.Rules) || (len(rules) == 0 && len(role.Rules) == 0) {
		return nil
	}
	next := role.DeepCopy()
	next.Rules = rules
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
