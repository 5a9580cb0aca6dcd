package cronjob

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Options configures the controller. The zero value is usable; tests inject
// a fake Clock to fire schedules.
type Options struct {
	ctrlutil.Common
}

// Controller is the CronJob controller.
type Controller struct {
	client   kubernetes.Interface
	cjLister batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	opts     Options
	loop     *ctrlutil.Loop
	synced   []cache.InformerSynced
}

var controllerKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// New returns the CronJob controller. Informers are registered on factory;
// the caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	cjs := factory.Batch().V1().CronJobs()
	jobs := factory.Batch().V1().Jobs()
	c := &Controller{client: client, cjLister: cjs.Lister(), jobs: jobs.Lister(), opts: opts}
	c.loop = ctrlutil.NewLoop("cronjob", opts.Common, c.sync)
	cjs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: c.loop.Enqueue,
	})
	jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobEvent,
		UpdateFunc: func(_, cur any) { c.jobEvent(cur) },
		DeleteFunc: c.jobEvent,
	})
	c.synced = []cache.InformerSynced{cjs.Informer().HasSynced, jobs.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced...)
}

// jobEvent requeues the CronJob controlling the job.
func (c *Controller) jobEvent(obj any) {
	job, ok := ctrlutil.Unwrap[*batchv1.Job](obj)
	if !ok {
		return
	}
	ref := ctrlutil.ControllerRefOf(job, controllerKind)
	if ref == nil {
		return
	}
	c.loop.Queue.Add(job.Namespace + "/" + ref.Name)
}
