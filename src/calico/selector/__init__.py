"""Calico's label-selector language: parse, evaluate, canonicalise.

    >>> from calico.selector import parse
    >>> sel = parse("role == 'db' && env in {'prod', 'staging'}")
    >>> sel.evaluate({"role": "db", "env": "prod"})
    True
    >>> str(sel)
    '(role == "db" && env in {"prod", "staging"})'

* parse(text) -> Selector, cached by text; bad text raises SelectorError
  with what was expected and at which character position.
* Selector.evaluate(labels) compiled once to a single Python function.
* str(selector) is Calico's canonical form; selector.unique_id Calico's ID
  (IP-set names derive from it); equality and hashing go by canonical form.
* selector.root is the syntax tree: frozen dataclasses exported below.
* and_ / or_ combine selectors; prefix_labels and replace_all_and_global
  rewrite them for the v3 -> Felix conversion; label_restrictions() gives
  the per-label lower bounds the calc graph can index on.

Behaviour follows libcalico-go/lib/selector (REFERENCE.md section 3); the
private modules document each rule and the few deliberate differences.
"""

from calico.selector._ast import (
    All,
    And,
    Global,
    Has,
    LabelContains,
    LabelEndsWith,
    LabelEq,
    LabelIn,
    LabelNe,
    LabelNode,
    LabelNotIn,
    LabelStartsWith,
    Node,
    Not,
    Or,
)
from calico.selector._compile import Evaluator
from calico.selector._parser import MAX_NESTING
from calico.selector._restrictions import LabelRestriction
from calico.selector._selector import Selector, and_, or_, parse
from calico.selector._tokenizer import MAX_LABEL_LENGTH, is_valid_label

__all__ = [
    "MAX_LABEL_LENGTH",
    "MAX_NESTING",
    "All",
    "And",
    "Evaluator",
    "Global",
    "Has",
    "LabelContains",
    "LabelEndsWith",
    "LabelEq",
    "LabelIn",
    "LabelNe",
    "LabelNode",
    "LabelNotIn",
    "LabelRestriction",
    "LabelStartsWith",
    "Node",
    "Not",
    "Or",
    "Selector",
    "and_",
    "is_valid_label",
    "or_",
    "parse",
]
