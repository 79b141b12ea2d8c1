"""Felix's rule rendering: dataplane messages → iptables chains (pure, no I/O).

Public API:

* :class:`RuleRenderer` with :class:`RendererConfig` (and :class:`Marks`):
  every ``*_chains`` method returns :class:`Chain` objects for
  :class:`calico.felix.iptables.Table`.
* :class:`Chain`, :class:`IptRule`, :class:`KernelHooks`: the rendered form.
* :data:`TABLES`: the iptables tables felix programs, in apply order.

Module map: ``policy`` (rules → iptables rules, with ``blocks`` for what does
not fit one rule), ``endpoints``, ``dispatch``, ``static`` (filter/raw/mangle
skeleton), ``nat``, ``names`` (chain and set names, rule hashes), ``matches``
and ``actions`` (the exact iptables spellings).
"""

from calico.felix.rules.config import Marks, RendererConfig
from calico.felix.rules.renderer import TABLES, RuleRenderer
from calico.felix.rules.types import Chain, IptRule, KernelHooks

__all__ = ["TABLES", "Chain", "IptRule", "KernelHooks", "Marks", "RendererConfig", "RuleRenderer"]
