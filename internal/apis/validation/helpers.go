package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"
	// maxConfigSize is the limit on the summed size of a ConfigMap's or Secret's data.
	maxConfigSize = 1 * 1024 * 1024
)

// invalidEach turns each message of a string-returning check into an Invalid error.
func invalidEach(p *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, value, msg))
	}
	return errs
}

func dns1123Label(v string, p *field.Path) field.ErrorList {
	return invalidEach(p, v, validation.IsDNS1123Label(v))
}

func dns1123Subdomain(v string, p *field.Path) field.ErrorList {
	return invalidEach(p, v, validation.IsDNS1123Subdomain(v))
}

func qualifiedName(v string, p *field.Path) field.ErrorList {
	return invalidEach(p, v, content.IsLabelKey(v))
}

func labelValue(v string, p *field.Path) field.ErrorList {
	return invalidEach(p, v, content.IsLabelValue(v))
}

func nonNegative(v int64, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(v, p)
}

func nonNegativePtr[T ~int32 | ~int64](v *T, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(int64(*v), p)
}

func immutable(newVal, oldVal any, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, p)
}

// enum reports Required for an empty value and NotSupported for one outside valid.
func enum[T ~string](v T, valid []T, p *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, ok := range valid {
		if v == ok {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, v, valid)}
}

// optionalEnum is enum for fields where empty means "unset".
func optionalEnum[T ~string](v T, valid []T, p *field.Path) field.ErrorList {
	if v == "" {
		return nil
	}
	return enum(v, valid, p)
}

var portProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

func portNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return invalidEach(p, port.IntValue(), validation.IsValidPortNum(port.IntValue()))
	case intstr.String:
		return invalidEach(p, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return field.ErrorList{field.InternalError(p, fmt.Errorf("unknown type: %v", port.Type))}
}

// nonNegativeQuantity rejects negative quantities with upstream's message.
func nonNegativeQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), isNegativeErrorMsg)}
	}
	return nil
}

// positiveIntOrPercent accepts a non-negative integer or a percentage string.
func positiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return invalidEach(p, v, validation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), p)
	}
	return nil
}

// intOrPercentValue is the number in an int-or-percent, or -1 when unparsable.
func intOrPercentValue(v intstr.IntOrString) int {
	if v.Type == intstr.Int {
		return v.IntValue()
	}
	s := strings.TrimSuffix(v.StrVal, "%")
	n := 0
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || s == "" {
		return -1
	}
	return n
}

func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) > 0 {
		return nil
	}
	if intOrPercentValue(v) > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

// setHas reports whether v is in set.
func setHas[T comparable](set []T, v T) bool {
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}
