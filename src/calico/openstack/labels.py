"""The label and annotation names OpenStack objects carry in Calico.

Shared by the port translation (which puts them on WorkloadEndpoints), the
security-group translation (whose selectors match them) and the DHCP agent
(which reads the annotations).  The names are networking-calico's
(``policy.py``, ``endpoints.py``, ``datamodel_v3.py``), so policies written
for a real Calico/OpenStack deployment select the same endpoints here.
"""

from __future__ import annotations

import re

# Label values and the name part of label keys are at most 63 characters.
LABEL_MAX_LENGTH = 63

# A VM belongs to security group S when its endpoint has the label
# ``sg.projectcalico.org/openstack-<S id>`` (value: S's name); the policy for
# S selects ``has(<that label>)``.  The second label lets users select by name.
SG_LABEL_PREFIX = "sg.projectcalico.org/openstack-"
SG_NAME_LABEL_PREFIX = "sg-name.projectcalico.org/openstack-"
# networking-calico subtracts the whole prefix (not only the part after the
# '/'), so names are cut shorter than strictly necessary; kept for equal labels.
SG_NAME_MAX_LENGTH = LABEL_MAX_LENGTH - len(SG_NAME_LABEL_PREFIX)

PROJECT_ID_LABEL = "projectcalico.org/openstack-project-id"
PROJECT_NAME_LABEL = "projectcalico.org/openstack-project-name"
PROJECT_PARENT_ID_LABEL = "projectcalico.org/openstack-project-parent-id"
NETWORK_NAME_LABEL = "projectcalico.org/openstack-network-name"

ANNOTATION_PREFIX = "openstack.projectcalico.org/"
NETWORK_ID_ANNOTATION = ANNOTATION_PREFIX + "network-id"
FQDN_ANNOTATION = ANNOTATION_PREFIX + "fqdn"
# Our addition.  networking-calico writes the allowed-address-pair IPs into an
# extra ``spec.allowedIps`` field, which is not part of Calico's API (Go
# readers drop it, our strict models reject it).  The DHCP agent needs to know
# them, so that it serves only the fixed IPs: they travel in this annotation,
# comma separated, as ``<ip>/<32|128>``.
ALLOWED_IPS_ANNOTATION = ANNOTATION_PREFIX + "allowed-ips"

_BAD_CHARS = re.compile(r"[^-_.A-Za-z0-9]")
_LEADING = re.compile(r"^[^A-Za-z0-9]+")
_TRAILING = re.compile(r"[^A-Za-z0-9]+$")


def sg_label(sg_id: str) -> str:
    return SG_LABEL_PREFIX + sg_id


def sg_selector(sg_id: str) -> str:
    """The selector of every endpoint in security group ``sg_id``."""
    return f"has({sg_label(sg_id)})"


def sanitize(name: str, max_length: int = LABEL_MAX_LENGTH) -> str:
    """``name`` made a valid label value (networking-calico's rule).

    Truncate, replace every character outside ``[-_.A-Za-z0-9]`` with ``_``,
    then drop non-alphanumeric characters from both ends.
    """
    text = _BAD_CHARS.sub("_", name[:max_length])
    return _TRAILING.sub("", _LEADING.sub("", text))
