"""Kubernetes objects as Calico resources, as Calico's Kubernetes datastore shows them.

* ``v1 Namespace`` -> Profile ``kns.<ns>`` (allow-all rules, namespace labels
  re-keyed ``pcns.<key>``): :mod:`calico.k8s.namespace`;
* ``networking.k8s.io/v1 NetworkPolicy`` -> NetworkPolicy
  ``knp.default.<name>`` (tier default, order 1000):
  :mod:`calico.k8s.networkpolicy`, with :mod:`.labelselector` and
  :mod:`.ports`;
* :func:`convert_document`: the calicoctl hook dispatching raw documents
  (and their List kinds) to the above, passing everything else through.

Conversions produce plain ``projectcalico.org/v3`` dicts; validating them as
resources is the caller's job (``calico.resources.parse_resource``).
"""

from calico.k8s.convert import convert_document, is_kubernetes_document
from calico.k8s.namespace import namespace_to_profile, profile_name
from calico.k8s.networkpolicy import network_policy_to_calico, policy_name

__all__ = [
    "convert_document",
    "is_kubernetes_document",
    "namespace_to_profile",
    "network_policy_to_calico",
    "policy_name",
    "profile_name",
]
