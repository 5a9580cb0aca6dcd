package controllermanager

// serviceAccounts maps each controller to the kube-system service account it
// acts as, upstream's names, whose system:controller:<name> ClusterRole grants
// exactly what the controller needs.
var serviceAccounts = map[string]string{
	"replicaset":             "replicaset-controller",
	"replicationcontroller":  "replication-controller",
	"deployment":             "deployment-controller",
	"nodelifecycle":          "node-controller",
	"nodeipam":               "node-controller",
	"endpoints":              "endpoint-controller",
	"endpointslice":          "endpointslice-controller",
	"serviceaccount":         "service-account-controller",
	"garbagecollector":       "generic-garbage-collector",
	"namespace":              "namespace-controller",
	"daemonset":              "daemon-set-controller",
	"statefulset":            "statefulset-controller",
	"job":                    "job-controller",
	"ttlafterfinished":       "ttl-after-finished-controller",
	"cronjob":                "cronjob-controller",
	"disruption":             "disruption-controller",
	"podgc":                  "pod-garbage-collector",
	"clusterroleaggregation": "clusterrole-aggregation-controller",
	"tokencleaner":           "token-cleaner",
	"csrapproving":           "certificate-controller",
	"csrsigning":             "certificate-controller",
	"csrcleaner":             "certificate-controller",
	"root-ca-cert-publisher": "root-ca-cert-publisher",
}

// ServiceAccountName is the kube-system service account controller runs as
// ("" for an unknown controller).
func ServiceAccountName(controller string) string { return serviceAccounts[controller] }

// withOwnClients swaps deps' clients for the controller's own when
// Options.ClientFor provides them.
func withOwnClients(deps *buildDeps, controller string) error {
	if deps.opts.ClientFor == nil || serviceAccounts[controller] == "" {
		return nil
	}
	c, md, err := deps.opts.ClientFor(serviceAccounts[controller])
	if err != nil {
		return err
	}
	if c != nil {
		deps.client = c
	}
	if md != nil && deps.opts.Metadata != nil {
		deps.opts.Metadata = md
	}
	return nil
}
