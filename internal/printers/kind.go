package printers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printer renders the objects of one kind as a Table. A resource's strategy
// holds one, so the API server never looks printers up by kind itself.
type Printer interface {
	// Columns are the kind's column definitions (the caller's to keep).
	Columns() []metav1.TableColumnDefinition
	// Table renders objs as Table rows; see the package-level Table.
	Table(objs []runtime.Object, includeObject metav1.IncludeObjectPolicy, now time.Time) (*metav1.Table, error)
}

// kindPrinter is the registered printer of one kind (or the default one).
type kindPrinter struct{ gk schema.GroupKind }

func (k kindPrinter) Columns() []metav1.TableColumnDefinition { return Columns(k.gk) }

func (k kindPrinter) Table(objs []runtime.Object, include metav1.IncludeObjectPolicy, now time.Time) (*metav1.Table, error) {
	return Table(k.gk, objs, include, now)
}

// For returns the printer of a kind: its own columns when one is registered,
// otherwise the generic Name + "Created At".
func For(group, kind string) Printer {
	return kindPrinter{gk: schema.GroupKind{Group: group, Kind: kind}}
}

// Registered reports whether a kind has its own columns (not the default printer).
func Registered(group, kind string) bool {
	_, ok := printers[schema.GroupKind{Group: group, Kind: kind}]
	return ok
}
