package apiserver

import (
	"context"
	"fmt"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// serveReview answers the review resources that are computed, never stored:
// SelfSubjectReview (`kubectl auth whoami`), the access reviews (`kubectl auth
// can-i`, webhooks asking on someone's behalf) and SelfSubjectRulesReview
// (`kubectl auth can-i --list`). Answers come from the same authorizer that
// guards requests, so they are true.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := readObject(w, r, ri.res.GVK())
	if err != nil {
		writeError(w, err)
		return
	}
	user, _ := auth.UserFrom(r.Context())
	if user == nil {
		user = &auth.User{Name: auth.AnonymousUser, Groups: []string{auth.UnauthenticatedGroup}}
	}
	out, err := s.review(r.Context(), ri, user, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	m := mustMeta(out)
	m.CreationTimestamp = metav1.Now()
	writeObject(w, negotiate(r, nil), http.StatusCreated, withKind(out, ri.res.GVK()))
}

func (s *Server) review(ctx context.Context, ri requestInfo, user *auth.User, obj runtime.Object) (runtime.Object, error) {
	switch o := obj.(type) {
	case *authenticationv1.SelfSubjectReview:
		o.Status.UserInfo = authenticationv1.UserInfo{Username: user.Name, UID: user.UID, Groups: user.Groups, Extra: extraOf(user)}
	case *authorizationv1.SelfSubjectAccessReview:
		if err := checkOneAttributeKind(ri, o.Spec.ResourceAttributes != nil, o.Spec.NonResourceAttributes != nil); err != nil {
			return nil, err
		}
		o.Status = s.decide(ctx, reviewAttributes(user, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes))
	case *authorizationv1.SubjectAccessReview:
		if err := checkSubjectSpec(ri, &o.Spec); err != nil {
			return nil, err
		}
		o.Status = s.decide(ctx, reviewAttributes(specUser(&o.Spec), o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes))
	case *authorizationv1.LocalSubjectAccessReview:
		if err := checkLocalReview(ri, o); err != nil {
			return nil, err
		}
		o.Status = s.decide(ctx, reviewAttributes(specUser(&o.Spec), o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes))
	case *authorizationv1.SelfSubjectRulesReview:
		if o.Spec.Namespace == "" {
			return nil, apierrors.NewBadRequest("no namespace on request")
		}
		o.Status = s.rulesReview(user, o.Spec.Namespace)
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unexpected review kind %T", obj))
	}
	return obj, nil
}

// decide asks the authorizer and reports as upstream: allowed, denied (only an
// explicit Deny), the reason, and any evaluation error.
func (s *Server) decide(ctx context.Context, a authz.Attributes) authorizationv1.SubjectAccessReviewStatus {
	d, reason, err := s.authorizer().Authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{Allowed: d == authz.Allow, Denied: d == authz.Deny, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

func reviewAttributes(u *auth.User, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authz.Attributes {
	if nra != nil {
		return authz.Attributes{User: u, Verb: nra.Verb, Path: nra.Path}
	}
	return authz.Attributes{User: u, ResourceRequest: true, Verb: ra.Verb, APIGroup: ra.Group, APIVersion: ra.Version,
		Resource: ra.Resource, Subresource: ra.Subresource, Namespace: ra.Namespace, Name: ra.Name}
}

// specUser is the user a SubjectAccessReview asks about, exactly as given (no
// system:authenticated added: the caller states the groups).
func specUser(spec *authorizationv1.SubjectAccessReviewSpec) *auth.User {
	u := &auth.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if len(spec.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			u.Extra[k] = v
		}
	}
	return u
}

func invalidReview(ri requestInfo, errs ...*field.Error) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: ri.res.Group, Kind: ri.res.Kind}, "", errs)
}

func checkOneAttributeKind(ri requestInfo, hasRes, hasNonRes bool) error {
	if hasRes == hasNonRes {
		return invalidReview(ri, field.Invalid(field.NewPath("spec"), nil,
			"exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	return nil
}

func checkSubjectSpec(ri requestInfo, spec *authorizationv1.SubjectAccessReviewSpec) error {
	if err := checkOneAttributeKind(ri, spec.ResourceAttributes != nil, spec.NonResourceAttributes != nil); err != nil {
		return err
	}
	if spec.User == "" && len(spec.Groups) == 0 {
		return invalidReview(ri, field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified"))
	}
	return nil
}

// checkLocalReview: a LocalSubjectAccessReview asks about its own namespace only.
func checkLocalReview(ri requestInfo, o *authorizationv1.LocalSubjectAccessReview) error {
	if o.Namespace == "" {
		o.Namespace = ri.namespace
	}
	if o.Namespace != ri.namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if err := checkSubjectSpec(ri, &o.Spec); err != nil {
		return err
	}
	if o.Spec.NonResourceAttributes != nil {
		return invalidReview(ri, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), o.Spec.NonResourceAttributes,
			"disallowed on this kind of request"))
	}
	if o.Spec.ResourceAttributes.Namespace != o.Namespace {
		return invalidReview(ri, field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"),
			o.Spec.ResourceAttributes.Namespace, "must match metadata.namespace"))
	}
	return nil
}

// rulesReview lists what the user may do in namespace: its RBAC rules, split
// into resource and non-resource rules, as upstream's rule resolver reports
// them. Under AlwaysAllow everything is listed.
func (s *Server) rulesReview(u *auth.User, namespace string) authorizationv1.SubjectRulesReviewStatus {
	var st authorizationv1.SubjectRulesReviewStatus
	if s.authz.chain == nil || authz.HasMode(s.cfg.AuthorizationModes, authz.ModeAlwaysAllow) {
		st.ResourceRules = []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
		st.NonResourceRules = []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}
		return st
	}
	rules, errs := s.authz.rbac.RulesFor(u, namespace)
	for _, r := range rules {
		if len(r.Resources) > 0 {
			st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{Verbs: r.Verbs, APIGroups: r.APIGroups,
				Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
		if len(r.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
	}
	if st.ResourceRules == nil {
		st.ResourceRules = []authorizationv1.ResourceRule{}
	}
	if st.NonResourceRules == nil {
		st.NonResourceRules = []authorizationv1.NonResourceRule{}
	}
	if len(errs) > 0 {
		st.EvaluationError = fmt.Sprint(errs)
	}
	return st
}

func extraOf(u *auth.User) map[string]authenticationv1.ExtraValue {
	if len(u.Extra) == 0 {
		return nil
	}
	out := map[string]authenticationv1.ExtraValue{}
	for k, v := range u.Extra {
		out[k] = v
	}
	return out
}
