package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// workloadSelector validates a required, non-empty label selector and returns it
// parsed (nil when unusable) for the template-labels check.
func workloadSelector(sel *metav1.LabelSelector, kind string, p *field.Path) (labels.Selector, field.ErrorList) {
	if sel == nil {
		return nil, field.ErrorList{field.Required(p, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p, sel, "empty selector is invalid for "+kind))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, append(errs, field.Invalid(p, sel, "invalid label selector"))
	}
	return s, errs
}

// replicatedTemplate validates the pod template of a controller that keeps pods
// running: it must match the selector, restart Always, and have no deadline.
func replicatedTemplate(t *corev1.PodTemplateSpec, sel labels.Selector, kind string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, podTemplateSpec(t, p)...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("spec", "activeDeadlineSeconds"), t.Spec.ActiveDeadlineSeconds,
			"activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := objectMeta(&d.ObjectMeta, true, nameIsDNSSubdomain)
	s := &d.Spec
	sp := field.NewPath("spec")
	errs = append(errs, nonNegativePtr(s.Replicas, sp.Child("replicas"))...)
	sel, sErrs := workloadSelector(s.Selector, "deployment", sp.Child("selector"))
	errs = append(errs, sErrs...)
	errs = append(errs, replicatedTemplate(&s.Template, sel, "ReplicaSet", sp.Child("template"))...)
	errs = append(errs, deploymentStrategy(&s.Strategy, sp.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), sp.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(s.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
	if pds := s.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, nonNegative(int64(*pds), sp.Child("progressDeadlineSeconds"))...)
		if *pds <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(sp.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func deploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return rollingUpdateDeployment(s.RollingUpdate, p.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(p.Child("type"), s.Type,
			[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

func rollingUpdateDeployment(ru *appsv1.RollingUpdateDeployment, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	unavailable, surge := intstrOrZero(ru.MaxUnavailable), intstrOrZero(ru.MaxSurge)
	errs = append(errs, positiveIntOrPercent(unavailable, p.Child("maxUnavailable"))...)
	errs = append(errs, positiveIntOrPercent(surge, p.Child("maxSurge"))...)
	if intOrPercentValue(unavailable) == 0 && intOrPercentValue(surge) == 0 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return append(errs, notMoreThan100Percent(unavailable, p.Child("maxUnavailable"))...)
}

func intstrOrZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := objectMeta(&rs.ObjectMeta, true, nameIsDNSSubdomain)
	sp := field.NewPath("spec")
	errs = append(errs, nonNegativePtr(rs.Spec.Replicas, sp.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(rs.Spec.MinReadySeconds), sp.Child("minReadySeconds"))...)
	sel, sErrs := workloadSelector(rs.Spec.Selector, "deployment", sp.Child("selector"))
	errs = append(errs, sErrs...)
	return append(errs, replicatedTemplate(&rs.Spec.Template, sel, "ReplicaSet", sp.Child("template"))...)
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	errs := objectMeta(&rc.ObjectMeta, true, nameIsDNSSubdomain)
	sp := field.NewPath("spec")
	errs = append(errs, nonNegative(int64(rc.Spec.MinReadySeconds), sp.Child("minReadySeconds"))...)
	if len(rc.Spec.Selector) == 0 {
		errs = append(errs, field.Required(sp.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabels(rc.Spec.Selector, sp.Child("selector"))...)
	}
	errs = append(errs, nonNegativePtr(rc.Spec.Replicas, sp.Child("replicas"))...)
	if rc.Spec.Template == nil {
		return append(errs, field.Required(sp.Child("template"), ""))
	}
	sel := labels.Set(rc.Spec.Selector).AsSelector()
	return append(errs, replicatedTemplate(rc.Spec.Template, sel, "ReplicationController", sp.Child("template"))...)
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	errs := objectMeta(&ss.ObjectMeta, true, nameIsDNSSubdomain)
	s := &ss.Spec
	sp := field.NewPath("spec")
	errs = append(errs, enum(s.PodManagementPolicy, []appsv1.PodManagementPolicyType{
		appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement}, sp.Child("podManagementPolicy"))...)
	errs = append(errs, statefulSetStrategy(&s.UpdateStrategy, sp.Child("updateStrategy"))...)
	errs = append(errs, nonNegativePtr(s.Replicas, sp.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), sp.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(s.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
	if s.ServiceName != "" {
		errs = append(errs, dns1123Label(s.ServiceName, sp.Child("serviceName"))...)
	}
	if s.Ordinals != nil {
		errs = append(errs, nonNegative(int64(s.Ordinals.Start), sp.Child("ordinals", "start"))...)
	}
	if rp := s.PersistentVolumeClaimRetentionPolicy; rp != nil {
		kinds := []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
			appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
		rpp := sp.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, enum(rp.WhenDeleted, kinds, rpp.Child("whenDeleted"))...)
		errs = append(errs, enum(rp.WhenScaled, kinds, rpp.Child("whenScaled"))...)
	}
	for i, c := range s.VolumeClaimTemplates {
		errs = append(errs, dns1123Label(c.Name, sp.Child("volumeClaimTemplates").Index(i).Child("metadata", "name"))...)
	}
	sel, sErrs := workloadSelector(s.Selector, "statefulset", sp.Child("selector"))
	errs = append(errs, sErrs...)
	// The controller adds a volume per claim template, so mounts may reference them.
	t := s.Template.DeepCopy()
	have := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		have[v.Name] = true
	}
	for _, c := range s.VolumeClaimTemplates {
		if c.Name != "" && !have[c.Name] {
			t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
		}
	}
	return append(errs, replicatedTemplate(t, sel, "StatefulSet", sp.Child("template"))...)
}

func statefulSetStrategy(s *appsv1.StatefulSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case "":
		return field.ErrorList{field.Required(p, "")}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Invalid(p.Child("rollingUpdate"), s.RollingUpdate,
				"only allowed for updateStrategy 'RollingUpdate'")}
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if s.RollingUpdate == nil {
			return nil
		}
		var errs field.ErrorList
		errs = append(errs, nonNegativePtr(s.RollingUpdate.Partition, p.Child("rollingUpdate", "partition"))...)
		if mu := s.RollingUpdate.MaxUnavailable; mu != nil {
			mp := p.Child("rollingUpdate", "maxUnavailable")
			errs = append(errs, positiveIntOrPercent(*mu, mp)...)
			if intOrPercentValue(*mu) == 0 {
				errs = append(errs, field.Invalid(mp, *mu, "cannot be 0"))
			}
			errs = append(errs, notMoreThan100Percent(*mu, mp)...)
		}
		return errs
	default:
		return field.ErrorList{field.NotSupported(p, s.Type, []appsv1.StatefulSetUpdateStrategyType{
			appsv1.OnDeleteStatefulSetStrategyType, appsv1.RollingUpdateStatefulSetStrategyType})}
	}
	return nil
}

func statefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	c := ss.Spec.DeepCopy()
	c.Replicas = old.Spec.Replicas
	c.Template = old.Spec.Template
	c.UpdateStrategy = old.Spec.UpdateStrategy
	c.MinReadySeconds = old.Spec.MinReadySeconds
	c.Ordinals = old.Spec.Ordinals
	c.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	c.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !apiequality.Semantic.DeepEqual(*c, old.Spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than "+
			"'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := objectMeta(&ds.ObjectMeta, true, nameIsDNSSubdomain)
	s := &ds.Spec
	sp := field.NewPath("spec")
	sel, sErrs := workloadSelector(s.Selector, "daemonset", sp.Child("selector"))
	errs = append(errs, sErrs...)
	errs = append(errs, replicatedTemplate(&s.Template, sel, "DaemonSet", sp.Child("template"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), sp.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(s.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
	return append(errs, daemonSetStrategy(&s.UpdateStrategy, sp.Child("updateStrategy"))...)
}

func daemonSetStrategy(s *appsv1.DaemonSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "")}
		}
		rp := p.Child("rollingUpdate")
		unavailable, surge := intstrOrZero(s.RollingUpdate.MaxUnavailable), intstrOrZero(s.RollingUpdate.MaxSurge)
		var errs field.ErrorList
		errs = append(errs, positiveIntOrPercent(unavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, positiveIntOrPercent(surge, rp.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(unavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(surge, rp.Child("maxSurge"))...)
		// A node's old pod is either killed first or surged over, never both.
		hasU, hasS := intOrPercentValue(unavailable) != 0, intOrPercentValue(surge) != 0
		switch {
		case hasU && hasS:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), surge, "may not be set when maxUnavailable is non-zero"))
		case !hasU && !hasS:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	default:
		return field.ErrorList{field.NotSupported(p.Child("type"), s.Type, []appsv1.DaemonSetUpdateStrategyType{
			appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType})}
	}
}

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	errs := objectMeta(&cr.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, nonNegative(cr.Revision, field.NewPath("revision"))...)
}

// appsStatus checks the replica counters every apps workload status carries.
func replicaCounters(p *field.Path, replicas int32, counters map[string]int32) field.ErrorList {
	errs := nonNegative(int64(replicas), p.Child("replicas"))
	for _, name := range []string{"readyReplicas", "availableReplicas", "updatedReplicas", "currentReplicas", "fullyLabeledReplicas", "terminatingReplicas"} {
		v, ok := counters[name]
		if !ok {
			continue
		}
		errs = append(errs, nonNegative(int64(v), p.Child(name))...)
		if v > replicas && name != "terminatingReplicas" && name != "updatedReplicas" {
			errs = append(errs, field.Invalid(p.Child(name), v, "cannot be greater than status.replicas"))
		}
	}
	if r, a := counters["readyReplicas"], counters["availableReplicas"]; a > r {
		if _, ok := counters["availableReplicas"]; ok {
			errs = append(errs, field.Invalid(p.Child("availableReplicas"), a, "cannot be greater than readyReplicas"))
		}
	}
	return errs
}
