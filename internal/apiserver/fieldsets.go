package apiserver

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/storage"
)

// kindFields returns the fields a kind can be selected by, beyond metadata.name and
// metadata.namespace (the field labels of the Kubernetes field-selectors page).
func kindFields(obj runtime.Object) fields.Set {
	switch o := obj.(type) {
	case *corev1.Pod:
		return fields.Set{
			"spec.nodeName": o.Spec.NodeName, "spec.restartPolicy": string(o.Spec.RestartPolicy),
			"spec.schedulerName": o.Spec.SchedulerName, "spec.serviceAccountName": o.Spec.ServiceAccountName,
			"spec.hostNetwork": strconv.FormatBool(o.Spec.HostNetwork), "status.phase": string(o.Status.Phase),
			"status.podIP": o.Status.PodIP, "status.nominatedNodeName": o.Status.NominatedNodeName,
		}
	case *corev1.Event:
		return fields.Set{
			"involvedObject.kind": o.InvolvedObject.Kind, "involvedObject.namespace": o.InvolvedObject.Namespace,
			"involvedObject.name": o.InvolvedObject.Name, "involvedObject.uid": string(o.InvolvedObject.UID),
			"involvedObject.apiVersion": o.InvolvedObject.APIVersion, "involvedObject.resourceVersion": o.InvolvedObject.ResourceVersion,
			"involvedObject.fieldPath": o.InvolvedObject.FieldPath, "reason": o.Reason, "reportingComponent": o.ReportingController,
			"source": o.Source.Component, "type": o.Type,
		}
	case *eventsv1.Event:
		return fields.Set{
			"regarding.kind": o.Regarding.Kind, "regarding.namespace": o.Regarding.Namespace, "regarding.name": o.Regarding.Name,
			"regarding.uid": string(o.Regarding.UID), "reason": o.Reason, "reportingController": o.ReportingController, "type": o.Type,
		}
	case *corev1.Secret:
		return fields.Set{"type": string(o.Type)}
	case *corev1.Namespace:
		return fields.Set{"status.phase": string(o.Status.Phase)}
	case *corev1.Node:
		return fields.Set{"spec.unschedulable": strconv.FormatBool(o.Spec.Unschedulable)}
	case *appsv1.ReplicaSet:
		return fields.Set{"status.replicas": strconv.Itoa(int(o.Status.Replicas))}
	case *corev1.ReplicationController:
		return fields.Set{"status.replicas": strconv.Itoa(int(o.Status.Replicas))}
	case *batchv1.Job:
		return fields.Set{"status.successful": strconv.Itoa(int(o.Status.Succeeded))}
	}
	return fields.Set{}
}

var fieldsByKind = map[schema.GroupKind]map[string]bool{}

func init() {
	samples := []runtime.Object{&corev1.Pod{}, &corev1.Event{}, &eventsv1.Event{}, &corev1.Secret{}, &corev1.Namespace{},
		&corev1.Node{}, &appsv1.ReplicaSet{}, &corev1.ReplicationController{}, &batchv1.Job{}}
	for _, o := range samples {
		gvks, _, _ := schemeKinds(o)
		set := map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for k := range kindFields(o) {
			set[k] = true
		}
		for _, gvk := range gvks {
			fieldsByKind[gvk.GroupKind()] = set
		}
	}
}

func supportedFields(gk schema.GroupKind) map[string]bool {
	if s, ok := fieldsByKind[gk]; ok {
		return s
	}
	return map[string]bool{"metadata.name": true, "metadata.namespace": true}
}

// attrsFunc returns the label and field sets selectors match against.
func attrsFunc(schema.GroupKind) storage.AttrFunc {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil, err
		}
		f := kindFields(obj)
		f["metadata.name"] = m.GetName()
		f["metadata.namespace"] = m.GetNamespace()
		return labels.Set(m.GetLabels()), f, nil
	}
}
