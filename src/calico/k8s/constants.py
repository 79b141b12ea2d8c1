"""Names shared by the Kubernetes conversions.

Source: libcalico-go ``lib/backend/k8s/conversion/constants.go`` and api
``pkg/apis/projectcalico/v3/constants.go``.
"""

from __future__ import annotations

# The apiVersion/kind pairs we convert.
CORE_API_VERSION = "v1"
NETWORKING_API_VERSION = "networking.k8s.io/v1"
NAMESPACE_KIND = "Namespace"
NETWORK_POLICY_KIND = "NetworkPolicy"

# Namespace -> Profile.
NAMESPACE_PROFILE_PREFIX = "kns."
NAMESPACE_LABEL_PREFIX = "pcns."
# A label every converted namespace carries so that a namespaceSelector can
# pick a namespace by name, whatever its other labels are.
NAME_LABEL = "projectcalico.org/name"
# The label the API server puts on every Namespace (Kubernetes >= 1.21,
# immutable, equal to the name).  Policies written for real clusters select
# namespaces by it, so we set it as the API server would have.
K8S_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# NetworkPolicy -> Calico NetworkPolicy.
POLICY_NAME_PREFIX = "knp.default."
POLICY_ORDER = 1000
POLICY_TIER = "default"

# Labels Calico puts on every Kubernetes pod's WorkloadEndpoint.
ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
ORCHESTRATOR_K8S = "k8s"
NAMESPACE_LABEL = "projectcalico.org/namespace"

CALICO_API_VERSION = "projectcalico.org/v3"
