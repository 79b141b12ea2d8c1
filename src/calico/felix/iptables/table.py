"""One iptables table (raw, mangle, nat or filter) of one IP version.

Desired state in, minimal ``iptables-restore --noflush`` transaction out.

The model (Calico's ``felix/iptables/table.go``):

* The caller declares whole chains (``set_chains``/``remove_chains``) and the
  few rules that hook kernel chains (``set_insert_rules``/``set_append_rules``).
  Nothing touches the kernel until :meth:`Table.apply`.
* Only chains *reachable* from the hooks are programmed, so a renderer may hand
  every table every chain; a referenced chain that was never declared is a
  :class:`DataplaneError` raised before anything is written.
* State is read back with ``iptables-save``, but only as the ``cali:<hash>``
  IDs of each rule (:mod:`calico.felix.iptables.save`).  A chain whose hashes
  already match is left alone, so its packet counters survive; otherwise only
  the rules whose hash differs are replaced (``-R``), appended or deleted.
  ``cali-`` chains nobody wants are flushed and deleted; ``cali:`` rules in
  kernel chains that we no longer want are deleted by value.
* One apply is one transaction (one ``COMMIT``), so a failure changes nothing.
  A failed write re-reads the table and retries with exponential backoff, then
  raises :class:`CommandFailedError` carrying the restore input.
* The cached view of the kernel is trusted between applies.  :meth:`invalidate`
  drops it, and :meth:`refresh` (invalidate + apply) repairs drift caused by
  other programs; the dataplane calls it periodically (IptablesRefreshInterval).

iptables-nft before 1.8.3 mis-numbered ``-R`` in restore input, which is why
Calico rewrites whole chains in nft mode; Debian 12 ships 1.8.9, where
per-rule replace works (checked by the kernel tests), so we always use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from calico.errors import CommandFailedError, DataplaneError
from calico.felix.iptables.cmd import CommandRunner, run_checked
from calico.felix.iptables.save import TableState, is_ours, parse_save
from calico.felix.rules.names import hash_comment, rule_hashes
from calico.felix.rules.types import Chain, IptRule

KERNEL_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}
BACKENDS = ("auto", "nft", "legacy")


@dataclass(frozen=True, slots=True)
class ApplyStats:
    """What one :meth:`Table.apply` did.  ``restore_input`` is the last text sent."""

    reads: int = 0
    restore_calls: int = 0
    retries: int = 0
    chains_written: tuple[str, ...] = ()
    chains_deleted: tuple[str, ...] = ()
    kernel_chains_written: tuple[str, ...] = ()
    restore_input: str = ""


@dataclass
class _Plan:
    lines: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kernel_written: list[str] = field(default_factory=list)
    after: TableState = field(default_factory=TableState)


class Table:
    def __init__(
        self,
        name: str,
        ip_version: int,
        cmd: CommandRunner,
        *,
        backend: str = "auto",
        insert_mode: str = "insert",
        retries: int = 3,
        backoff: float = 0.05,
        lock_wait: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if name not in KERNEL_CHAINS:
            raise ValueError(f"unknown iptables table {name!r}")
        if backend not in BACKENDS or insert_mode not in ("insert", "append"):
            raise ValueError(f"bad backend {backend!r} or insert mode {insert_mode!r}")
        self.name, self.ip_version = name, ip_version
        self._cmd, self._insert_mode = cmd, insert_mode
        self._retries, self._backoff, self._sleep = retries, backoff, sleep
        self._lock_wait = lock_wait
        self._save_cmd, self._restore_cmd = _tools(ip_version, backend)
        self._chains: dict[str, Chain] = {}
        self._hashes: dict[str, list[str]] = {}  # cache, per desired chain
        self._inserts: dict[str, tuple[IptRule, ...]] = {}
        self._appends: dict[str, tuple[IptRule, ...]] = {}
        self._kernel: TableState | None = None
        self._in_sync = False

    # --- desired state ------------------------------------------------------------

    def set_chains(self, chains: Iterable[Chain]) -> None:
        for chain in chains:
            if self._chains.get(chain.name) != chain:
                self._chains[chain.name] = chain
                self._hashes.pop(chain.name, None)
                self._in_sync = False

    def remove_chains(self, names: Iterable[str]) -> None:
        for name in names:
            if self._chains.pop(name, None) is not None:
                self._hashes.pop(name, None)
                self._in_sync = False

    def set_insert_rules(self, kernel_chain: str, rules: Sequence[IptRule]) -> None:
        self._set_hook(self._inserts, kernel_chain, rules)

    def set_append_rules(self, kernel_chain: str, rules: Sequence[IptRule]) -> None:
        self._set_hook(self._appends, kernel_chain, rules)

    def _set_hook(
        self, hooks: dict[str, tuple[IptRule, ...]], chain: str, rules: Sequence[IptRule]
    ) -> None:
        if is_ours(chain):
            raise ValueError(f"{chain} is a felix chain; hooks go into kernel chains")
        hooks[chain] = tuple(rules)
        # Kernel chains are shared with other programs: re-read before touching them.
        self.invalidate()

    # --- kernel I/O -----------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget what we believe the kernel holds; the next apply re-reads it."""
        self._kernel = None
        self._in_sync = False

    def refresh(self) -> ApplyStats:
        """Re-read the table and repair any drift."""
        self.invalidate()
        return self.apply()

    def apply(self) -> ApplyStats:
        if self._in_sync:
            return ApplyStats()
        wanted = self._reachable_chains()
        reads = retries = restores = 0
        delay = self._backoff
        while True:
            if self._kernel is None:
                self._kernel = self._read()
                reads += 1
            plan = self._plan(wanted, self._kernel)
            if not plan.lines:
                self._in_sync = True
                return ApplyStats(reads=reads, retries=retries)
            text = "\n".join([f"*{self.name}", *plan.lines, "COMMIT", ""])
            argv = [self._restore_cmd, "--noflush", "--wait", str(self._lock_wait)]
            result = self._cmd.run(argv, text)
            restores += 1
            if result.returncode == 0:
                self._kernel, self._in_sync = plan.after, True
                return ApplyStats(
                    reads=reads,
                    restore_calls=restores,
                    retries=retries,
                    chains_written=tuple(plan.written),
                    chains_deleted=tuple(plan.deleted),
                    kernel_chains_written=tuple(plan.kernel_written),
                    restore_input=text,
                )
            # Someone else may have changed the table under us: re-read, retry.
            self._kernel = None
            if retries >= self._retries:
                raise CommandFailedError(argv, result.returncode, result.stderr, text)
            retries += 1
            self._sleep(delay)
            delay *= 2

    def _read(self) -> TableState:
        return parse_save(run_checked(self._cmd, [self._save_cmd, "-t", self.name]), self.name)

    # --- planning ---------------------------------------------------------------------

    def _reachable_chains(self) -> dict[str, Chain]:
        """Chains reachable from the hooks; raise if one of them is undefined."""
        wanted: dict[str, Chain] = {}
        todo = [
            (kernel_chain, r.target)
            for hooks in (self._inserts, self._appends)
            for kernel_chain, rules in hooks.items()
            for r in rules
            if r.target is not None
        ]
        while todo:
            source, name = todo.pop()
            if name in wanted:
                continue
            chain = self._chains.get(name)
            if chain is None:
                raise DataplaneError(
                    f"{self.name} table (IPv{self.ip_version}): {source} jumps to {name}, "
                    "which is not defined"
                )
            wanted[name] = chain
            todo.extend((name, target) for target in chain.references())
        return wanted

    def _desired_hashes(self, chain: Chain) -> list[str]:
        cached = self._hashes.get(chain.name)
        if cached is None:
            cached = self._hashes[chain.name] = rule_hashes(chain.name, chain.rules)
        return cached

    def _plan(self, wanted: dict[str, Chain], kernel: TableState) -> _Plan:
        plan = _Plan(after=kernel.copy())
        unwanted = sorted(c for c in kernel.hashes if is_ours(c) and c not in wanted)
        created = sorted(c for c in wanted if c not in kernel.hashes)
        # Forward references create new chains and flush the doomed ones, which
        # also cuts any references between chains that are going away together.
        plan.lines += [f":{name} - -" for name in sorted(created + unwanted)]
        for name in sorted(wanted):
            self._plan_chain(plan, wanted[name], kernel.hashes.get(name))
        kernel_chains = {c for c, hs in kernel.hashes.items() if not is_ours(c) and any(hs)}
        for name in sorted(kernel_chains | self._inserts.keys() | self._appends.keys()):
            self._plan_kernel_chain(plan, name, kernel)
        for name in unwanted:
            plan.lines.append(f"--delete-chain {name}")
            plan.deleted.append(name)
            del plan.after.hashes[name]
        return plan

    def _plan_chain(self, plan: _Plan, chain: Chain, current: list[str] | None) -> None:
        """Replace, append or delete only the rules whose hash differs.

        ``current`` is None for a chain the kernel does not have yet (its
        forward reference has already been written).
        """
        desired = self._desired_hashes(chain)
        if current == desired:
            return
        current = current or []
        name = chain.name
        for i in range(max(len(current), len(desired))):
            if i >= len(desired):
                plan.lines.append(f"-D {name} {len(desired) + 1}")  # trailing rules
            elif i >= len(current):
                plan.lines.append(chain.rules[i].render(f"-A {name}", hash_comment(desired[i])))
            elif current[i] != desired[i]:
                rule = chain.rules[i].render(f"-R {name} {i + 1}", hash_comment(desired[i]))
                plan.lines.append(rule)
        plan.written.append(name)
        plan.after.hashes[name] = list(desired)

    def _plan_kernel_chain(self, plan: _Plan, name: str, kernel: TableState) -> None:
        """Keep our hooks at the top (or bottom) of a kernel chain.

        If anything is off we delete all our rules there, by their full saved
        text so that concurrent changes to other rule positions cannot make us
        delete the wrong one, and write our hooks again.
        """
        current = kernel.hashes.get(name, [])
        saved = kernel.lines.get(name, [])
        foreign = [line for line, h in zip(saved, current, strict=True) if not h]
        inserts = self._inserts.get(name, ())
        appends = self._appends.get(name, ())
        ins_hashes = rule_hashes(name, inserts)
        app_hashes = rule_hashes(name + "*appends*", appends)
        ins_lines = [_append_line(name, r, h) for r, h in zip(inserts, ins_hashes, strict=True)]
        app_lines = [_append_line(name, r, h) for r, h in zip(appends, app_hashes, strict=True)]
        blanks = [""] * len(foreign)
        if self._insert_mode == "insert":
            expected, after = ins_hashes + blanks + app_hashes, ins_lines + foreign + app_lines
        else:
            expected, after = blanks + ins_hashes + app_hashes, foreign + ins_lines + app_lines
        if current == expected:
            return
        plan.lines += ["-D" + line[2:] for line, h in zip(saved, current, strict=True) if h]
        if self._insert_mode == "insert":
            # Each -I lands on top, so insert in reverse to keep the order.
            plan.lines += [
                r.render(f"-I {name}", hash_comment(h))
                for r, h in reversed(list(zip(inserts, ins_hashes, strict=True)))
            ]
        else:
            plan.lines += ins_lines
        plan.lines += app_lines
        plan.kernel_written.append(name)
        plan.after.hashes[name], plan.after.lines[name] = expected, after


def _tools(ip_version: int, backend: str) -> tuple[str, str]:
    if ip_version not in (4, 6):
        raise ValueError(f"ip_version must be 4 or 6, not {ip_version!r}")
    base = "iptables" if ip_version == 4 else "ip6tables"
    variant = "" if backend == "auto" else f"-{backend}"
    return f"{base}{variant}-save", f"{base}{variant}-restore"


def _append_line(chain: str, rule: IptRule, rule_hash: str) -> str:
    return rule.render(f"-A {chain}", hash_comment(rule_hash))
