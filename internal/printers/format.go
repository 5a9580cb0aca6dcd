package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Placeholders kubectl users know from upstream's output.
const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
)

// Column helpers keep the definitions short; Description is one sentence each.

func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide marks a column that kubectl shows only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name",
		Description: "The name of the object, unique within its namespace."}
}

func ageColumn() metav1.TableColumnDefinition {
	return column("Age", "string", "Time since the object was created.")
}

func containersColumn() metav1.TableColumnDefinition {
	return wide(column("Containers", "string", "Names of each container in the pod template."))
}

func imagesColumn() metav1.TableColumnDefinition {
	return wide(column("Images", "string", "Images referenced by each container in the pod template."))
}

func selectorColumn() metav1.TableColumnDefinition {
	return wide(column("Selector", "string", "The label selector that picks the managed pods."))
}

// age renders the time from t until now the way kubectl does ("5m", "3d4h").
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells lists container names and images, comma separated, in order.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// orNone replaces an empty string with "<none>".
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// boolPtr renders an optional bool as upstream does: "True", "False" or "<unset>".
func boolPtr(b *bool) string {
	switch {
	case b == nil:
		return unset
	case *b:
		return "True"
	default:
		return "False"
	}
}

// replicas returns a desired replica count, treating nil as the API default of 1.
func replicas(r *int32) int64 {
	if r == nil {
		return 1
	}
	return int64(*r)
}

// listWithMore joins the first max items and summarizes the rest, as
// "a,b,c + 2 more..."; an empty list is "<unset>".
func listWithMore(items []string, max int) string {
	if len(items) == 0 {
		return unset
	}
	if len(items) <= max {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:max], ","), len(items)-max)
}
