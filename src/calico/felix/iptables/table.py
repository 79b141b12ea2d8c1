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
* Except for many *new* chains at once (the first apply on a fresh node), with
  the nft backend.  iptables-nft-restore in ``--noflush`` mode keeps the
  chains a transaction names in a sorted linked list (``nft-cache.c``,
  ``cache_chain_list_insert``), so every line costs a walk over the chains
  seen so far: 10k new endpoint chains in one transaction take twice the time
  of a flushing restore of the same rules, 20k four times.  So when more than
  ``new_chain_batch`` chains are new, they are written first, whole
  (``:chain`` then its ``-A`` lines), in transactions of at most that many
  chains, targets before the chains that jump to them; nothing references
  them until the final transaction, which makes every other change (hooks,
  existing chains, deletions) at once as before.  A failure there leaves only
  unreferenced new chains behind, which the retry (or the next apply) finds
  already right.  The legacy backend has no such cost and always gets one
  transaction.
* The cached view of the kernel is trusted between applies.  :meth:`invalidate`
  drops it, and :meth:`refresh` (invalidate + apply) repairs drift caused by
  other programs; the dataplane calls it periodically (IptablesRefreshInterval).

iptables-nft before 1.8.3 mis-numbered ``-R`` in restore input, which is why
Calico rewrites whole chains in nft mode; Debian 12 ships 1.8.9, where
per-rule replace works (checked by the kernel tests), so we always use it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from calico.errors import CommandFailedError, DataplaneError
from calico.felix.iptables.cmd import CommandResult, CommandRunner, run_checked
from calico.felix.iptables.save import TableState, is_ours, parse_save
from calico.felix.rules.names import HASH_LENGTH, hash_comment, rule_hashes
from calico.felix.rules.types import Chain, IptRule

KERNEL_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}
BACKENDS = ("auto", "nft", "legacy")
NEW_CHAIN_BATCH = 250  # new chains per early transaction (nft backend)


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
        new_chain_batch: int = NEW_CHAIN_BATCH,
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
        self._new_chain_batch = max(1, new_chain_batch)
        # Whether the restore tool is iptables-nft (None: "auto", not asked yet).
        self._nft: bool | None = {"nft": True, "legacy": False}.get(backend)
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
        argv = [self._restore_cmd, "--noflush", "--wait", str(self._lock_wait)]
        while True:
            if self._kernel is None:
                self._kernel = self._read()
                reads += 1
            writer = _Writer(self._cmd, argv)
            try:
                plan = self._plan(wanted, self._kernel, writer.send_early)
                if plan.lines:
                    writer.send(self._restore_text(plan.lines))
                count, last = writer.finish()
            except BaseException:
                if writer.finish()[0]:
                    self._kernel = None  # early batches of new chains may have gone in
                raise
            if last is None:
                self._in_sync = True
                return ApplyStats(reads=reads, retries=retries)
            restores += count
            text, result = last
            if result.returncode == 0:
                self._kernel, self._in_sync = plan.after, True
                return ApplyStats(
                    reads=reads,
                    restore_calls=restores,
                    retries=retries,
                    chains_written=tuple(sorted(plan.written)),
                    chains_deleted=tuple(plan.deleted),
                    kernel_chains_written=tuple(plan.kernel_written),
                    restore_input=text,
                )
            # Someone else may have changed the table under us (or early
            # batches of new chains went in before the failure): re-read, retry.
            self._kernel = None
            if retries >= self._retries:
                raise CommandFailedError(argv, result.returncode, result.stderr, text)
            retries += 1
            self._sleep(delay)
            delay *= 2

    def _restore_text(self, lines: list[str]) -> str:
        return "\n".join([f"*{self.name}", *lines, "COMMIT", ""])

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

    def _plan(
        self,
        wanted: dict[str, Chain],
        kernel: TableState,
        send_early: Callable[[str], None],
    ) -> _Plan:
        """The final transaction; batches of new chains go to ``send_early`` as they are made."""
        plan = _Plan(after=kernel.copy())
        unwanted = sorted(c for c in kernel.hashes if is_ours(c) and c not in wanted)
        created = sorted(c for c in wanted if c not in kernel.hashes)
        early: set[str] = set()
        if len(created) > self._new_chain_batch and self._is_nft():
            order = _targets_first(created, wanted)
            early = set(order)
            for start in range(0, len(order), self._new_chain_batch):
                names = order[start : start + self._new_chain_batch]
                batch = [f":{name} - -" for name in names]
                for name in names:
                    self._plan_chain(plan, batch, wanted[name], None)
                send_early(self._restore_text(batch))
        # Forward references create new chains and flush the doomed ones, which
        # also cuts any references between chains that are going away together.
        plan.lines += [f":{name} - -" for name in sorted(created + unwanted) if name not in early]
        for name in sorted(wanted):
            if name not in early:
                self._plan_chain(plan, plan.lines, wanted[name], kernel.hashes.get(name))
        kernel_chains = {c for c, hs in kernel.hashes.items() if not is_ours(c) and any(hs)}
        for name in sorted(kernel_chains | self._inserts.keys() | self._appends.keys()):
            self._plan_kernel_chain(plan, name, kernel)
        for name in unwanted:
            plan.lines.append(f"--delete-chain {name}")
            plan.deleted.append(name)
            del plan.after.hashes[name]
        return plan

    def _is_nft(self) -> bool:
        """Whether the restore tool is iptables-nft; "auto" asks it, once."""
        if self._nft is None:
            version = self._cmd.run([self._restore_cmd, "--version"]).stdout
            self._nft = "legacy" not in version
        return self._nft

    def _plan_chain(
        self, plan: _Plan, lines: list[str], chain: Chain, current: list[str] | None
    ) -> None:
        """Replace, append or delete only the rules whose hash differs.

        ``current`` is None for a chain the kernel does not have yet (its
        ``:chain`` line has already been written).
        """
        name = chain.name
        if not current:
            # New or empty in the kernel: written whole, each rule rendered once
            # for both its hash and its line (the first apply writes every rule).
            tails = [rule.render("", "") for rule in chain.rules]
            desired = self._hashes.get(name)
            if desired is None:
                desired = self._hashes[name] = _hashes_of_tails(name, tails)
            if current == desired:
                return
            head = f"-A {name} "
            pairs = zip(desired, tails, strict=True)
            lines += [f"{head}{hash_comment(h)}{tail}" for h, tail in pairs]
        else:
            desired = self._desired_hashes(chain)
            if current == desired:
                return
            for i in range(max(len(current), len(desired))):
                if i >= len(desired):
                    lines.append(f"-D {name} {len(desired) + 1}")  # trailing rules
                elif i >= len(current):
                    lines.append(chain.rules[i].render(f"-A {name}", hash_comment(desired[i])))
                elif current[i] != desired[i]:
                    rule = chain.rules[i].render(f"-R {name} {i + 1}", hash_comment(desired[i]))
                    lines.append(rule)
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


_UNFINISHED = CommandResult(-1, "", "raised before finishing")


class _Writer:
    """Runs restore inputs strictly in the order given, and none after one fails.

    Early batches (new chains) run on a worker thread, so that planning the
    next batch overlaps the kernel's work on this one; a send after them
    queues behind them.  Without early batches everything runs inline.
    """

    def __init__(self, cmd: CommandRunner, argv: Sequence[str]) -> None:
        self._cmd, self._argv = cmd, argv
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: list[Future[None]] = []
        self._count = 0
        self._last: tuple[str, CommandResult] | None = None  # the input kept, for errors

    def send_early(self, text: str) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iptables-restore")
        self.send(text)

    def send(self, text: str) -> None:
        if self._pool is None:
            self._run(text)
        else:
            self._jobs.append(self._pool.submit(self._run, text))

    def _run(self, text: str) -> None:
        if self._last is not None and self._last[1].returncode != 0:
            return  # an earlier one failed (or raised): nothing after it may run
        self._count += 1
        self._last = (text, _UNFINISHED)
        self._last = (text, self._cmd.run(self._argv, text))

    def finish(self) -> tuple[int, tuple[str, CommandResult] | None]:
        """Wait for everything sent: how many restores ran, and the last one's
        input and result (a failure, if there was one)."""
        if self._pool is not None:
            try:
                for job in self._jobs:
                    job.result()
            finally:
                self._pool.shutdown()
                self._pool = None
        return self._count, self._last


def _hashes_of_tails(chain_name: str, tails: Sequence[str]) -> list[str]:
    """:func:`~calico.felix.rules.names.rule_hashes` of rules given as
    ``rule.render("", "")`` (everything after the head and the hash comment,
    with its leading space), which ``render(head, "HASH")`` ends with."""
    digest = hashlib.sha224(chain_name.encode()).digest()
    head = f"-A {chain_name} HASH"
    hashes = []
    for tail in tails:
        digest = hashlib.sha224(digest + f"{head}{tail}".encode()).digest()
        hashes.append(base64.urlsafe_b64encode(digest).decode()[:HASH_LENGTH])
    return hashes


def _targets_first(names: list[str], chains: Mapping[str, Chain]) -> list[str]:
    """``names`` ordered so that each comes after those of ``names`` it jumps to."""
    among = set(names)
    order: list[str] = []
    seen: set[str] = set()
    for root in names:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(chains[root].references() & among)))]
        while stack:
            name, targets = stack[-1]
            target = next((t for t in targets if t not in seen), None)
            if target is None:
                stack.pop()
                order.append(name)
            else:
                seen.add(target)
                stack.append((target, iter(sorted(chains[target].references() & among))))
    return order


def _tools(ip_version: int, backend: str) -> tuple[str, str]:
    if ip_version not in (4, 6):
        raise ValueError(f"ip_version must be 4 or 6, not {ip_version!r}")
    base = "iptables" if ip_version == 4 else "ip6tables"
    variant = "" if backend == "auto" else f"-{backend}"
    return f"{base}{variant}-save", f"{base}{variant}-restore"


def _append_line(chain: str, rule: IptRule, rule_hash: str) -> str:
    return rule.render(f"-A {chain}", hash_comment(rule_hash))
