package openapi

import (
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// param is one operation or path parameter (never a body).
type param struct {
	Name, In, Type, Description string
	Required, Unique            bool
}

// response is one status code of an operation: a definition or a plain string.
type response struct {
	code string
	ref  string // definition name; "" means a string body
}

// operation is one HTTP method on a path, format-neutral.
type operation struct {
	method    string // lower case: get, post, put, patch, delete
	id        string
	desc      string
	action    string
	gvk       schema.GroupVersionKind
	query     []param
	body      string // definition name of the request body, "" for none
	patch     bool   // body is a patch document: several content types
	responses []response
	produces  []string
	tag       string
}

type pathItem struct {
	path   string
	params []param
	ops    []*operation
}

var (
	patchTypes = []string{
		"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml",
	}
	objectMedia = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	listMedia   = append(append([]string(nil), objectMedia...),
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
	logMedia = []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	anyMedia = []string{"*/*"}
)

func q(name, typ, desc string) param {
	return param{Name: name, In: "query", Type: typ, Description: desc, Unique: true}
}

var (
	prettyParam    = q("pretty", "string", "If 'true', the output is indented.")
	dryRunParam    = q("dryRun", "string", "When set to All, the request is validated and processed but nothing is persisted.")
	fieldMgrParam  = q("fieldManager", "string", "Name of the actor making the change, recorded in managedFields.")
	fieldValParam  = q("fieldValidation", "string", "How to treat unknown or duplicate fields in the body: Ignore, Warn or Strict.")
	writeParams    = []param{dryRunParam, fieldMgrParam, fieldValParam}
	patchParams    = []param{dryRunParam, fieldMgrParam, fieldValParam, q("force", "boolean", "Apply patches only: take ownership of conflicting fields.")}
	selectorParams = []param{
		q("continue", "string", "Token from a previous paged list to fetch the next page."),
		q("fieldSelector", "string", "Restrict the list to objects whose fields match this selector."),
		q("labelSelector", "string", "Restrict the list to objects whose labels match this selector."),
		q("limit", "integer", "Maximum number of items to return in one page."),
		q("resourceVersion", "string", "Resource version the list must be at least as new as (see resourceVersionMatch)."),
		q("resourceVersionMatch", "string", "How resourceVersion is applied: Exact or NotOlderThan."),
		q("sendInitialEvents", "boolean", "For watches: start with synthetic ADDED events for the current state."),
		q("timeoutSeconds", "integer", "Server-side timeout of the list or watch call."),
	}
	listParams = append([]param{
		q("allowWatchBookmarks", "boolean", "For watches: the server may send BOOKMARK events."),
	}, append(selectorParams, q("watch", "boolean", "Stream changes instead of returning a list."))...)
	deleteParams = []param{
		dryRunParam,
		q("gracePeriodSeconds", "integer", "Seconds before the object is deleted; 0 means immediately."),
		q("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "Delete objects that cannot be decoded from storage."),
		q("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
		q("propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground."),
	}
	deleteCollectionParams = append(append([]param(nil), deleteParams...), selectorParams...)
	logParams              = []param{
		q("container", "string", "Container to read logs from; may be omitted when the pod has one container."),
		q("follow", "boolean", "Stream new log lines as they are written."),
		q("insecureSkipTLSVerifyBackend", "boolean", "Skip verifying the kubelet's serving certificate."),
		q("limitBytes", "integer", "Stop after this many bytes."),
		q("previous", "boolean", "Return the logs of the previous, terminated container instance."),
		q("sinceSeconds", "integer", "Only lines newer than this many seconds."),
		q("stream", "string", "Which stream to return: Stdout, Stderr or All."),
		q("tailLines", "integer", "Number of lines from the end of the log to return."),
		q("timestamps", "boolean", "Prefix each line with an RFC 3339 timestamp."),
	}
	streamParams = []param{
		q("container", "string", "Container to connect to."),
		q("stderr", "boolean", "Redirect the standard error stream."),
		q("stdin", "boolean", "Redirect the standard input stream."),
		q("stdout", "boolean", "Redirect the standard output stream."),
		q("tty", "boolean", "Allocate a terminal."),
	}
	connectParams = map[string][]param{
		"exec":        append([]param{q("command", "string", "Command to run; repeat the parameter for each argument.")}, streamParams...),
		"attach":      streamParams,
		"portforward": {q("ports", "integer", "Pod ports to forward.")},
	}
)

func pathParam(name, desc string) param {
	return param{Name: name, In: "path", Type: "string", Description: desc, Required: true, Unique: true}
}

// groupIdent is the group as used in operation ids and tags: "" -> core,
// rbac.authorization.k8s.io -> rbacAuthorization.
func groupIdent(group string) string {
	if group == "" {
		return "core"
	}
	parts := strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".")
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.Join(parts, "")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// gvPath is the URL prefix of a group version and also its key in the v3 root (without the slash).
func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// pathBuilder generates the paths of one resource.
type pathBuilder struct {
	b      *builder
	r      *catalog.Resource
	prefix string // "GroupVersion[Namespaced]Kind" part of operation ids
	gv     string // "CoreV1"
	ns     string // "Namespaced" or ""
	tag    string
	status string // definition name of metav1.Status
	delOpt string
	patchT string
}

func typeOfKind(gvk schema.GroupVersionKind) (reflect.Type, bool) {
	obj, err := catalog.Scheme.New(gvk)
	if err != nil {
		return nil, false
	}
	return reflect.TypeOf(obj), true
}

func (b *builder) resourcePaths(r *catalog.Resource) []pathItem {
	ns := ""
	if r.Namespaced {
		ns = "Namespaced"
	}
	pb := &pathBuilder{
		b: b, r: r,
		prefix: upperFirst(groupIdent(r.Group)) + upperFirst(r.Version) + ns + r.Kind,
		gv:     upperFirst(groupIdent(r.Group)) + upperFirst(r.Version),
		ns:     ns,
		tag:    groupIdent(r.Group) + "_" + r.Version,
		status: b.ref(reflect.TypeOf(metav1.Status{})),
		delOpt: b.ref(reflect.TypeOf(metav1.DeleteOptions{})),
		patchT: b.ref(reflect.TypeOf(metav1.Patch{})),
	}
	return pb.paths()
}

func (pb *pathBuilder) has(verb string) bool {
	for _, v := range pb.r.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

func (pb *pathBuilder) op(method, verbID, action, desc string, gvk schema.GroupVersionKind) *operation {
	return &operation{method: method, id: verbID + pb.prefix, action: action, desc: desc, gvk: gvk,
		tag: pb.tag, produces: objectMedia}
}

func (pb *pathBuilder) paths() []pathItem {
	r := pb.r
	base := "/" + gvPath(r.GroupVersion())
	var nsParams []param
	if r.Namespaced {
		base += "/namespaces/{namespace}"
		nsParams = []param{pathParam("namespace", "Namespace of the object.")}
	}
	collection := base + "/" + r.Resource
	item := collection + "/{name}"
	nameParam := pathParam("name", "Name of the "+r.Kind+".")
	itemParams := append([]param{nameParam}, nsParams...)

	kind := pb.b.ref(reflect.TypeOf(r.New()))
	gvk := r.GVK()
	var out []pathItem
	add := func(path string, params []param, ops ...*operation) {
		var kept []*operation
		for _, o := range ops {
			if o != nil {
				kept = append(kept, o)
			}
		}
		if len(kept) > 0 {
			out = append(out, pathItem{path: path, params: append(append([]param(nil), params...), prettyParam), ops: kept})
		}
	}

	var list, listAll, create, delColl, get, update, patch, del *operation
	if pb.has("list") {
		if lt, ok := typeOfKind(r.ListGVK()); ok {
			listRef := pb.b.ref(lt)
			list = pb.op("get", "list", "list", "list or watch objects of kind "+r.Kind, gvk)
			list.query, list.produces = listParams, listMedia
			list.responses = []response{{"200", listRef}}
			if r.Namespaced {
				listAll = pb.op("get", "list", "list", "list or watch objects of kind "+r.Kind+" in all namespaces", gvk)
				listAll.id = "list" + pb.gv + r.Kind + "ForAllNamespaces"
				listAll.query, listAll.produces = listParams, listMedia
				listAll.responses = list.responses
			}
		}
	}
	if pb.has("create") {
		create = pb.op("post", "create", "post", "create a "+r.Kind, gvk)
		create.query, create.body = writeParams, kind
		create.responses = []response{{"200", kind}, {"201", kind}, {"202", kind}}
	}
	if pb.has("deletecollection") {
		delColl = pb.op("delete", "deleteCollection", "deletecollection", "delete a collection of "+r.Kind, gvk)
		delColl.query, delColl.body = deleteCollectionParams, pb.delOpt
		delColl.responses = []response{{"200", pb.status}}
	}
	if pb.has("get") {
		get = pb.op("get", "read", "get", "read the specified "+r.Kind, gvk)
		get.responses = []response{{"200", kind}}
	}
	if pb.has("update") {
		update = pb.op("put", "replace", "put", "replace the specified "+r.Kind, gvk)
		update.query, update.body = writeParams, kind
		update.responses = []response{{"200", kind}, {"201", kind}}
	}
	if pb.has("patch") {
		patch = pb.patchOp("patch", "partially update the specified "+r.Kind, gvk, kind)
	}
	if pb.has("delete") {
		del = pb.op("delete", "delete", "delete", "delete a "+r.Kind, gvk)
		del.query, del.body = deleteParams, pb.delOpt
		del.responses = []response{{"200", pb.status}, {"202", pb.status}}
	}
	add(collection, nsParams, list, create, delColl)
	add(item, itemParams, get, update, patch, del)
	if listAll != nil {
		out = append(out, pathItem{path: "/" + gvPath(r.GroupVersion()) + "/" + r.Resource,
			params: []param{prettyParam}, ops: []*operation{listAll}})
	}
	for i := range r.Subresources {
		out = append(out, pb.subresource(&r.Subresources[i], item, itemParams))
	}
	return out
}

func (pb *pathBuilder) patchOp(verbID, desc string, gvk schema.GroupVersionKind, kind string) *operation {
	o := pb.op("patch", verbID, "patch", desc, gvk)
	// kubectl decides "the server validates fields" from an inline fieldValidation
	// query parameter on the PATCH operation of the kind, and picks strategic merge
	// patch when its content type is listed; every PATCH must carry both.
	o.query, o.body, o.patch = patchParams, pb.patchT, true
	o.responses = []response{{"200", kind}, {"201", kind}}
	return o
}

func (pb *pathBuilder) subresource(sub *catalog.Subresource, item string, itemParams []param) pathItem {
	path := item + "/" + sub.Name
	suffix := upperFirst(sub.Name)
	pi := pathItem{path: path, params: append(append([]param(nil), itemParams...), prettyParam)}
	switch sub.Name {
	case "log":
		o := pb.op("get", "read", "get", "read the log of the specified "+pb.r.Kind, sub.Kind)
		o.id += suffix
		o.query, o.produces = logParams, logMedia
		o.responses = []response{{"200", ""}}
		pi.ops = append(pi.ops, o)
		return pi
	case "exec", "attach", "portforward":
		pi.params = itemParams // no pretty on streaming endpoints
		for _, v := range sub.Verbs {
			method := map[string]string{"get": "get", "create": "post"}[v]
			if method == "" {
				continue
			}
			o := pb.op(method, "connect", "connect", "connect "+method+" requests to "+sub.Name+" of "+pb.r.Kind, sub.Kind)
			o.id = "connect" + pb.gv + upperFirst(method) + pb.ns + pb.r.Kind + suffix
			o.query, o.produces = connectParams[sub.Name], anyMedia
			o.responses = []response{{"200", ""}}
			pi.ops = append(pi.ops, o)
		}
		return pi
	}
	t, ok := typeOfKind(sub.Kind)
	if !ok {
		return pi
	}
	kind := pb.b.ref(t)
	for _, v := range sub.Verbs {
		var o *operation
		switch v {
		case "get":
			o = pb.op("get", "read", "get", "read "+sub.Name+" of the specified "+pb.r.Kind, sub.Kind)
			o.responses = []response{{"200", kind}}
		case "update":
			o = pb.op("put", "replace", "put", "replace "+sub.Name+" of the specified "+pb.r.Kind, sub.Kind)
			o.query, o.body = writeParams, kind
			o.responses = []response{{"200", kind}, {"201", kind}}
		case "patch":
			o = pb.patchOp("patch", "partially update "+sub.Name+" of the specified "+pb.r.Kind, sub.Kind, kind)
		case "create":
			o = pb.op("post", "create", "post", "create "+sub.Name+" of a "+pb.r.Kind, sub.Kind)
			o.query, o.body = writeParams, kind
			o.responses = []response{{"200", kind}, {"201", kind}, {"202", kind}}
		default:
			continue
		}
		o.id += suffix
		pi.ops = append(pi.ops, o)
	}
	return pi
}
