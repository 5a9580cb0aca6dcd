package apiserver

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// Field managers track metadata.managedFields on every write and implement
// server-side apply. The type information comes from k8s.io/api's structured
// schema (client-go's apply configurations), not from OpenAPI.
var (
	typeConverterOnce sync.Once
	typeConverter     managedfields.TypeConverter
	fieldManagers     sync.Map // key: gvk+"/"+subresource → *managedfields.FieldManager
)

// defaulter adapts a strategy's Default to the field manager's interface.
type defaulter func(runtime.Object)

func (d defaulter) Default(obj runtime.Object) { d(obj) }

// fieldManagerFor returns the (cached) field manager of a kind and subresource;
// def is the kind's defaulting, which is the same whichever request asks first.
func fieldManagerFor(gvk schema.GroupVersionKind, subresource string, def func(runtime.Object)) (*managedfields.FieldManager, error) {
	key := gvk.String() + "/" + subresource
	if fm, ok := fieldManagers.Load(key); ok {
		return fm.(*managedfields.FieldManager), nil
	}
	typeConverterOnce.Do(func() { typeConverter = applyconfigurations.NewTypeConverter(catalog.Scheme) })
	tc := typeConverter
	if gvk.Group == "apiextensions.k8s.io" {
		// client-go's apply configurations do not cover CustomResourceDefinitions: their
		// fields are deduced from the objects (every list atomic, as for unknown types).
		tc = managedfields.NewDeducedTypeConverter()
	}
	fm, err := managedfields.NewDefaultFieldManager(tc, catalog.Scheme, defaulter(def), catalog.Scheme,
		gvk, gvk.GroupVersion(), subresource, nil)
	if err != nil {
		return nil, err
	}
	actual, _ := fieldManagers.LoadOrStore(key, fm)
	return actual.(*managedfields.FieldManager), nil
}

// managerName is the field manager of a write: ?fieldManager or the user agent's program name.
func managerName(manager, userAgent string) string {
	if manager != "" {
		return manager
	}
	for i, c := range userAgent {
		if c == '/' {
			return userAgent[:i]
		}
	}
	if userAgent == "" {
		return "unknown"
	}
	return userAgent
}

func (s *Server) trackCreate(ri requestInfo, obj runtime.Object, manager, userAgent string) error {
	return s.trackUpdate(ri, obj, nil, manager, userAgent)
}

// trackUpdate records the write in managedFields. Failures to track never fail the write
// (UpdateNoErrors), as upstream does.
func (s *Server) trackUpdate(ri requestInfo, obj, current runtime.Object, manager, userAgent string) error {
	if s.cfg.DisableManagedFields {
		return nil
	}
	fm, err := fieldManagerFor(ri.res.GVK(), ri.subresource, s.strategy(ri).Default)
	if err != nil {
		return nil
	}
	live := current
	if live == nil {
		live = ri.res.New()
	}
	tracked := fm.UpdateNoErrors(live, obj, managerName(manager, userAgent))
	if tracked != obj {
		m, _ := metaAccessor(obj)
		tm, _ := metaAccessor(tracked)
		if m != nil && tm != nil {
			m.ManagedFields = tm.ManagedFields
		}
	}
	return nil
}
