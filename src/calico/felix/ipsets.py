"""IP sets for one IP family: desired membership in, ``ipset restore`` deltas out.

Naming (REFERENCE 5.6): set ``<id>`` is ``cali40<id>`` (IPv4) or ``cali60<id>``
(IPv6), cut to the kernel's 31 characters; temporary sets are ``cali4t<n>``.
This driver owns every set whose name starts with ``cali4`` (or ``cali6``)
and destroys the ones nobody wants, so a restarted felix cleans up after its
predecessor.

Ordering is the caller's job and matters: :meth:`IPSets.apply_updates` before
iptables (rules must never reference a missing set), :meth:`IPSets.apply_deletions`
after it (the kernel refuses to destroy a set a rule still uses).

Kernel facts that shape the code:

* ``ipset restore`` is not transactional: it stops at the first failing line
  and keeps what it did.  So after a failure the kernel is re-read and the
  delta recomputed; ``-exist`` makes re-adding or re-deleting harmless.
* Parameters of a set (maxelem, ...) cannot change in place.  The new set is
  built under a temporary name and ``swap``-ped in atomically; rules keep
  pointing at the same name throughout.
* ``swap`` refuses sets of different *types*, and a set referenced by a rule
  can be neither destroyed nor renamed.  A type change is therefore a
  destroy-and-create, which only succeeds once no rule uses the set; until
  then :meth:`IPSets.apply_updates` raises a :class:`DataplaneError` naming it
  (and retries on every apply).  Calico derives a set's type from its ID, so
  this only happens with sets left behind by different software.
* Members are compared in the kernel's spelling (compressed IPv6, no ``/32``
  on host entries of ``hash:net`` sets), or every resync would see drift.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from calico.errors import CommandFailedError, DataplaneError
from calico.felix.iptables.cmd import CommandRunner, run_checked
from calico.felix.messages import IPSetDeltaUpdate, IPSetRemove, IPSetType, IPSetUpdate
from calico.felix.rules.names import ipset_family_prefix, ipset_name, temp_ipset_name

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 1048576  # Calico's MaxIpsetSize


@dataclass(frozen=True, slots=True)
class _Meta:
    """A set's creation parameters; ``type`` is None for types we do not manage."""

    type: IPSetType | None
    family: str
    maxelem: int

    def create_line(self, name: str) -> str:
        assert self.type is not None
        return f"create {name} {self.type.value} family {self.family} maxelem {self.maxelem}"


@dataclass
class _Set:
    meta: _Meta
    members: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class IPSetStats:
    reads: int = 0
    restore_calls: int = 0
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    swapped: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    restore_input: str = ""


class IPSets:
    def __init__(
        self, ip_version: int, cmd: CommandRunner, *, max_size: int = DEFAULT_MAX_SIZE
    ) -> None:
        self.ip_version = ip_version
        self._cmd = cmd
        self._family = "inet" if ip_version == 4 else "inet6"
        self._prefix = ipset_family_prefix(ip_version)
        self._max_size = max_size
        self._desired: dict[str, _Set] = {}
        self._kernel: dict[str, _Set] | None = None
        self._dirty: set[str] = set()
        self.reads = 0  # how many times the kernel was read (ipset save)

    # --- desired state -------------------------------------------------------------

    def name_for(self, set_id: str) -> str:
        return ipset_name(self.ip_version, set_id)

    def add_or_replace(self, set_id: str, set_type: IPSetType, members: Iterable[str]) -> None:
        """Desire set ``set_id`` with exactly ``members`` (other-family ones are ignored)."""
        name = self.name_for(set_id)
        meta = _Meta(set_type, self._family, self._max_size)
        self._desired[name] = _Set(meta, self._canonical(members))
        self._dirty.add(name)

    def add_members(self, set_id: str, members: Iterable[str]) -> None:
        self._known(set_id).members |= self._canonical(members)
        self._dirty.add(self.name_for(set_id))

    def remove_members(self, set_id: str, members: Iterable[str]) -> None:
        self._known(set_id).members -= self._canonical(members)
        self._dirty.add(self.name_for(set_id))

    def remove(self, set_id: str) -> None:
        """Stop wanting the set; it is destroyed by the next :meth:`apply_deletions`."""
        self._desired.pop(self.name_for(set_id), None)

    def on_message(self, msg: IPSetUpdate | IPSetDeltaUpdate | IPSetRemove) -> None:
        """Record one dataplane message (no kernel I/O)."""
        if isinstance(msg, IPSetUpdate):
            self.add_or_replace(msg.id, msg.type, msg.members)
        elif isinstance(msg, IPSetDeltaUpdate):
            self.remove_members(msg.id, msg.removed_members)
            self.add_members(msg.id, msg.added_members)
        else:
            self.remove(msg.id)

    def members(self, set_id: str) -> frozenset[str]:
        return frozenset(self._known(set_id).members)

    def _known(self, set_id: str) -> _Set:
        found = self._desired.get(self.name_for(set_id))
        if found is None:
            raise KeyError(f"IP set {set_id!r} is not known (no IPSetUpdate yet)")
        return found

    def _canonical(self, members: Iterable[str]) -> set[str]:
        out = set()
        for member in members:
            text = canonical_member(member)
            if text is None:
                log.warning("ignoring malformed IP set member %r", member)
            elif member_version(text) == self.ip_version:
                out.add(text)
        return out

    # --- kernel I/O ------------------------------------------------------------------

    def resync(self) -> None:
        """Re-read the kernel at the next apply and repair any drift."""
        self._kernel = None

    def apply_updates(self) -> IPSetStats:
        """Create and update sets (call before programming iptables).

        A failed restore (typically drift: a set we believed in was destroyed
        behind our back) is retried once from a fresh read of the kernel.
        """
        reads_before = self.reads
        try:
            batch, kernel = self._write_updates()
        except CommandFailedError:
            # The restore stopped half-way and our view is now wrong: the
            # failed call dropped it, so this re-reads, re-plans and retries.
            batch, kernel = self._write_updates()
        for name in batch.created + batch.updated + batch.swapped:
            desired = self._desired[name]
            kernel[name] = _Set(desired.meta, set(desired.members))
        self._dirty = set(batch.type_changes)
        self._change_types(batch.type_changes)
        return IPSetStats(
            reads=self.reads - reads_before,
            restore_calls=1 if batch.lines else 0,
            created=tuple(batch.created),
            updated=tuple(batch.updated),
            swapped=tuple(batch.swapped),
            restore_input="".join(f"{line}\n" for line in batch.lines),
        )

    def _write_updates(self) -> tuple[_Batch, dict[str, _Set]]:
        if self._kernel is None:
            self._kernel = self._read()
            self._dirty |= self._desired.keys()
        kernel = self._kernel
        batch = _Batch()
        for name in sorted(self._dirty & self._desired.keys()):
            self._plan_set(batch, name, kernel.get(name))
        try:
            self._run(batch.lines, exist=True)
        except CommandFailedError:
            self._kernel = None
            raise
        return batch, kernel

    def apply_deletions(self) -> IPSetStats:
        """Destroy our sets nobody wants (call after programming iptables)."""
        reads_before = self.reads
        if self._kernel is None:
            self._kernel = self._read()
        doomed = sorted(n for n in self._kernel if n not in self._desired)
        destroyed = self._destroy(doomed) if doomed else []
        for name in destroyed:
            del self._kernel[name]
        return IPSetStats(reads=self.reads - reads_before, deleted=tuple(destroyed))

    def _plan_set(self, batch: _Batch, name: str, current: _Set | None) -> None:
        """Add the lines that make ``name`` right (type changes are done apart)."""
        desired = self._desired[name]
        if current is None:
            batch.lines.append(desired.meta.create_line(name))
            batch.lines += [f"add {name} {m}" for m in sorted(desired.members)]
            batch.created.append(name)
        elif current.meta == desired.meta:
            batch.lines += [f"del {name} {m}" for m in sorted(current.members - desired.members)]
            batch.lines += [f"add {name} {m}" for m in sorted(desired.members - current.members)]
            if current.members != desired.members:
                batch.updated.append(name)
        elif current.meta.type == desired.meta.type:
            temp = self._free_temp_name()
            batch.lines.append(desired.meta.create_line(temp))
            batch.lines += [f"add {temp} {m}" for m in sorted(desired.members)]
            batch.lines += [f"swap {name} {temp}", f"destroy {temp}"]
            batch.swapped.append(name)
        else:
            batch.type_changes.append(name)

    def _change_types(self, names: list[str]) -> None:
        """Destroy and recreate sets whose type changed, one restore each."""
        kernel = self._kernel
        assert kernel is not None
        stuck = []
        for name in names:
            desired = self._desired[name]
            lines = [f"destroy {name}", desired.meta.create_line(name)]
            lines += [f"add {name} {m}" for m in sorted(desired.members)]
            try:
                self._run(lines, exist=False)
            except CommandFailedError as exc:
                stuck.append(f"{name} ({exc.stderr.strip()})")
                continue
            kernel[name] = _Set(desired.meta, set(desired.members))
            self._dirty.discard(name)
        if stuck:
            self._kernel = None  # a failed line may have left the set half-built
            raise DataplaneError(
                "cannot change the type of IP set(s) "
                + ", ".join(stuck)
                + ": the kernel cannot swap sets of different types nor destroy a set "
                "that iptables still references; it is retried on every apply"
            )

    def _destroy(self, names: list[str]) -> list[str]:
        """Destroy ``names`` in one restore; if a set is still referenced, the
        restore stops there, so find out what is left and try those one by one."""
        try:
            self._run([f"destroy {n}" for n in names], exist=False)
            return names
        except CommandFailedError:
            pass
        remaining = set(run_checked(self._cmd, ["ipset", "list", "-n"]).split())
        destroyed = [n for n in names if n not in remaining]
        for name in (n for n in names if n in remaining):
            result = self._cmd.run(["ipset", "destroy", name])
            if result.returncode == 0:
                destroyed.append(name)
            else:
                log.warning("cannot destroy IP set %s yet: %s", name, result.stderr.strip())
        return sorted(destroyed)

    def _free_temp_name(self) -> str:
        assert self._kernel is not None
        index = 0
        while temp_ipset_name(self.ip_version, index) in self._kernel:
            index += 1
        return temp_ipset_name(self.ip_version, index)

    def _run(self, lines: list[str], *, exist: bool) -> int:
        if not lines:
            return 0
        argv = ["ipset", "restore", "-exist"] if exist else ["ipset", "restore"]
        run_checked(self._cmd, argv, "".join(f"{line}\n" for line in lines))
        return 1

    def _read(self) -> dict[str, _Set]:
        self.reads += 1
        sets: dict[str, _Set] = {}
        for line in run_checked(self._cmd, ["ipset", "save"]).splitlines():
            words = line.split()
            if len(words) < 3 or not words[1].startswith(self._prefix):
                continue
            if words[0] == "create":
                sets[words[1]] = _Set(_parse_meta(words))
            elif words[0] == "add" and words[1] in sets:
                sets[words[1]].members.add(canonical_member(words[2]) or words[2])
        return sets


@dataclass
class _Batch:
    lines: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    swapped: list[str] = field(default_factory=list)
    type_changes: list[str] = field(default_factory=list)


def _parse_meta(words: list[str]) -> _Meta:
    """From ``create NAME TYPE family F hashsize H maxelem M ...``."""
    known = {t.value: t for t in IPSetType}
    options = dict(zip(words[3::2], words[4::2], strict=False))
    return _Meta(known.get(words[2]), options.get("family", ""), int(options.get("maxelem", 0)))


def canonical_member(member: str) -> str | None:
    """The kernel's spelling of a member, or None if it does not parse.

    ``10.0.0.1/32`` → ``10.0.0.1``; ``fd00::0001`` → ``fd00::1``;
    ``10.0.0.1,TCP:80`` → ``10.0.0.1,tcp:80``.
    """
    address, sep, port = member.strip().partition(",")
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return None
    full = net.max_prefixlen
    text = str(net.network_address) if net.prefixlen == full else str(net)
    return f"{text},{port.lower()}" if sep else text


def member_version(member: str) -> int:
    return 6 if ":" in member.partition(",")[0] else 4
