"""Bad input to the real ``calicoctl`` executable: one clear line, non-zero exit, nothing written.

Every case runs the installed console script in a subprocess, in a directory
of its own with a sqlite datastore of its own, and checks what a user sees:

* the exit status (1 for a failed command, 2 for a usage mistake);
* exactly one non-empty line on stderr, naming the field, flag or variable
  and the bad value, and never a traceback;
* nothing written: a rejected input file does not even create the datastore,
  and where one exists (``seeded``: a copy of a datastore holding IPPool
  ``p1``), ``p1`` is stored byte for byte as before; for files of several
  documents ``calicoctl get`` also shows that none of them was created.

The cases are independent, so they all run at once in a thread pool (one
subprocess each) before the per-case assertions look at the results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore

pytestmark = pytest.mark.skipif(
    os.path.exists("/etc/calico/calicoctl.cfg"),
    reason="/etc/calico/calicoctl.cfg would override the test's datastore environment",
)


def _exe(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name


CALICOCTL = _exe("calicoctl")
DB = "calico.db"
TIMEOUT = 30.0


def pool(name: str, cidr: str, extra: str = "") -> str:
    return (
        "apiVersion: projectcalico.org/v3\nkind: IPPool\n"
        f"metadata:\n  name: {name}\n{extra}spec:\n  cidr: {cidr}\n"
    )


def gnp(spec: str) -> str:
    """A GlobalNetworkPolicy whose spec is ``spec`` (indented YAML lines)."""
    return (
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n"
        f"metadata:\n  name: p\nspec:\n{spec}\n"
    )


def rule(body: str) -> str:
    """One ingress rule with ``body`` (YAML lines indented for a rule)."""
    return gnp("  ingress:\n  - action: Allow\n" + body)


def config(spec: str) -> str:
    return (
        f"apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {{}}\nspec:\n{spec}\n"
    )


GOOD = pool("p1", "10.1.0.0/16")
P1_FILES = {"p1.yaml": GOOD}
LIST_NAMES = ("get", "ippool", "-o", "custom-columns=NAME")


@dataclass(frozen=True)
class Case:
    """One bad invocation.

    ``expect``: substrings of the single stderr line; ``seeded``: start from
    the datastore holding ``p1`` and check that ``p1`` is unchanged after;
    ``after``: a command run after, and what its stdout must be (split into
    words); ``untouched``: the datastore file must not even exist.
    """

    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    code: int = 1
    files: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    seeded: bool = False
    after: tuple[tuple[str, ...], list[str]] | None = None
    untouched: bool = False


def _file_case(
    case_id: str, text: str, expect: tuple[str, ...], verb: str = "create", name: str = "in.yaml"
) -> Case:
    """``calicoctl <verb> -f <name>`` with a bad file: rejected before the datastore opens."""
    return Case(case_id, (verb, "-f", name), expect, files={name: text}, untouched=True)


CASES: list[Case] = [
    # -- the file cannot be parsed --------------------------------------------------------
    _file_case(
        "yaml-tab",
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n\tname: p\n",
        ("in.yaml", "invalid YAML", "line 4"),
    ),
    _file_case(
        "yaml-unclosed-quote",
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: "p\nspec: {}\n',
        ("in.yaml", "invalid YAML"),
        verb="apply",
    ),
    _file_case(
        "json-syntax",
        '{"apiVersion": "projectcalico.org/v3", "kind": "IPPool",, }',
        ("in.json", "invalid JSON", "line 1"),
        name="in.json",
    ),
    _file_case("not-a-resource", "42\n", ("in.yaml", "expected a resource", "int")),
    _file_case(
        "unknown-kind",
        "apiVersion: projectcalico.org/v3\nkind: Bogus\nmetadata:\n  name: p\n",
        ("field kind", "'Bogus'"),
    ),
    _file_case(
        "bad-api-version",
        pool("p", "10.0.0.0/8").replace("v3", "v2"),
        ("field apiVersion", "'projectcalico.org/v2'"),
    ),
    _file_case(
        "unknown-field",
        pool("p", "10.0.0.0/16") + "  bogus: 1\n",
        ("field spec.bogus", "unknown field"),
    ),
    _file_case(
        "string-for-int",
        pool("p", "10.0.0.0/16") + "  blockSize: abc\n",
        ("field spec.blockSize", "integer", "'abc'"),
    ),
    _file_case(
        "list-for-map",
        pool("p", "10.0.0.0/16", "  labels: [a, b]\n"),
        ("field metadata.labels", "mapping", "not a list"),
    ),
    _file_case(
        "bad-name",
        pool("A_1", "10.0.0.0/16"),
        ("field metadata.name", "'A_1'"),
    ),
    _file_case(
        "namespace-on-cluster-kind",
        pool("p", "10.0.0.0/16", "  namespace: x\n"),
        ("field metadata.namespace", "'x'"),
    ),
    # -- bad values -------------------------------------------------------------------------
    _file_case(
        "pool-cidr-prefix",
        pool("p", "10.0.0.0/99"),
        ("field spec.cidr", "'10.0.0.0/99'"),
    ),
    _file_case(
        "rule-net",
        rule("    source:\n      nets: [10.0.0.300/8]"),
        ("spec.ingress[0].source.nets[0]", "'10.0.0.300/8'"),
    ),
    _file_case(
        "rule-mixed-families",
        rule("    source:\n      nets: [10.0.0.0/8, 'fd00::/64']"),
        ("spec.ingress[0].source.nets[1]", "IPv4 and IPv6", "'fd00::/64'"),
    ),
    _file_case(
        "rule-action",
        gnp("  ingress:\n  - action: Maybe"),
        ("spec.ingress[0].action", "'Maybe'"),
    ),
    _file_case("policy-order", gnp("  order: abc"), ("field spec.order", "'abc'")),
    _file_case(
        "port-range-reversed",
        rule("    protocol: TCP\n    destination:\n      ports: ['80:70']"),
        ("destination.ports[0]", "'80:70'"),
    ),
    _file_case(
        "port-too-big",
        rule("    protocol: TCP\n    destination:\n      ports: [70000]"),
        ("destination.ports[0]", "70000"),
    ),
    _file_case(
        "port-bad-range-end",
        rule("    protocol: UDP\n    destination:\n      ports: ['80:abc']"),
        ("destination.ports[0]", "'80:abc'"),
    ),
    _file_case(
        "port-without-protocol",
        rule("    destination:\n      ports: [80]"),
        ("destination.ports[0]", "protocol", "80"),
    ),
    _file_case(
        "protocol-unknown",
        rule("    protocol: bogus"),
        ("spec.ingress[0].protocol", "'bogus'"),
    ),
    _file_case(
        "icmp-code-without-type",
        rule("    protocol: ICMP\n    icmp:\n      code: 3"),
        ("spec.ingress[0].icmp.code", "without an ICMP type", "3"),
    ),
    # -- selectors ----------------------------------------------------------------------------
    *(
        _file_case(
            f"selector-{n}",
            gnp(f'  selector: "{text}"'),
            ("field spec.selector", "invalid selector", repr(text)),
        )
        for n, text in enumerate(("a ==", "has(", "a = 'b'", "a == 'b"))
    ),
    _file_case(
        "rule-selector",
        rule("    source:\n      selector: 'a =='"),
        ("spec.ingress[0].source.selector", "'a =='"),
    ),
    # -- several documents, one bad: nothing at all is written --------------------------------
    Case(
        "multi-doc-create",
        ("create", "-f", "multi.yaml"),
        ("multi.yaml resource 2", "field spec.cidr", "'10.6.0.0/99'"),
        files={"multi.yaml": pool("a1", "10.5.0.0/16") + "---\n" + pool("a2", "10.6.0.0/99")},
        seeded=True,
        after=(LIST_NAMES, ["NAME", "p1"]),
    ),
    Case(
        "multi-doc-apply-yaml-error",
        ("apply", "-f", "multi.yaml"),
        ("multi.yaml document 2", "invalid YAML"),
        files={"multi.yaml": pool("a1", "10.5.0.0/16") + '---\nkind: "IPPool\n'},
        seeded=True,
        after=(LIST_NAMES, ["NAME", "p1"]),
    ),
    Case(
        "multi-doc-replace",
        ("replace", "-f", "multi.yaml"),
        ("multi.yaml resource 2", "field metadata.bad"),
        files={"multi.yaml": pool("p1", "10.9.0.0/16") + "---\n" + pool("a2", "x", "  bad: 1\n")},
        seeded=True,
        after=(LIST_NAMES, ["NAME", "p1"]),
    ),
    Case(
        "directory-one-bad-file",
        ("apply", "-f", "dir", "-R"),
        ("z.yaml resource 1", "field spec.cidr"),
        files={"dir/a.yaml": pool("a1", "10.5.0.0/16"), "dir/sub/z.yaml": pool("z", "nope")},
        untouched=True,
    ),
    # -- files that are not there or say nothing ------------------------------------------------
    Case("missing-file", ("create", "-f", "missing.yaml"), ("missing.yaml", "no such file")),
    Case(
        "directory-without-yaml",
        ("create", "-f", "dir"),
        ("no resources specified in directory dir",),
        files={"dir/readme.txt": "x\n", "dir/sub/p.yaml": GOOD},
        untouched=True,
    ),
    Case(
        "empty-file",
        ("apply", "-f", "empty.yaml"),
        ("no resources specified in file empty.yaml",),
        files={"empty.yaml": ""},
        untouched=True,
    ),
    Case("no-filename", ("create",), ("calicoctl create", "-f FILE"), code=2, untouched=True),
    # -- kinds, namespaces, output --------------------------------------------------------------
    Case("get-unknown-kind", ("get", "bogus"), ("resource type 'bogus'",)),
    Case(
        "get-namespaced-n-and-A",
        ("get", "networkpolicy", "-A", "-n", "ns1"),
        ("--namespace", "--all-namespaces"),
    ),
    Case("get-namespaced-one-with-A", ("get", "networkpolicy", "x", "-A"), ("--all-namespace",)),
    Case("delete-namespaced-with-A", ("delete", "networkpolicy", "x", "-A"), ("'-A'",), code=2),
    Case("delete-namespaced-without-name", ("delete", "networkpolicy"), ("KIND NAME",), code=2),
    Case("get-cluster-kind-with-n", ("get", "ippool", "-n", "ns1"), ("IPPool is not namespaced",)),
    Case(
        "delete-cluster-kind-with-n",
        ("delete", "ippool", "p1", "-n", "ns1"),
        ("IPPool is not namespaced",),
    ),
    Case(
        "apply-namespace-mismatch",
        ("apply", "-f", "np.yaml", "-n", "ns2"),
        ("ns1 != ns2",),
        files={
            "np.yaml": "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
            "metadata:\n  name: np\n  namespace: ns1\nspec: {}\n"
        },
        untouched=True,
    ),
    Case("output-unknown", ("get", "ippool", "-o", "bogus"), ("output format", "'bogus'")),
    Case("output-columns-empty", ("get", "ippool", "-o", "custom-columns="), ("column",)),
    Case(
        "output-columns-unknown",
        ("get", "ippool", "-o", "custom-columns=NAME,BOGUS"),
        ("unknown heading BOGUS",),
    ),
    Case("unknown-option", ("get", "ippool", "--bogus"), ("'--bogus'",), code=2),
    Case("unknown-command", ("frobnicate",), ("'frobnicate'",), code=2),
    Case("log-level", ("-l", "loud", "get", "ippool"), ("log level: loud",), code=2),
    # -- label and patch --------------------------------------------------------------------------
    *(
        Case(
            f"label-{n}",
            ("label", "ippool", "p1", text),
            expect,
            seeded=True,
        )
        for n, (text, expect) in enumerate(
            [
                ("bad key!=v", ("label key 'bad key!'",)),
                ("a=bad value!", ("'bad value!'", "label 'a'")),
                ("noequals", ("invalid label noequals",)),
            ]
        )
    ),
    *(
        Case(
            f"patch-{n}",
            ("patch", "ippool", "p1", "-p", text),
            expect,
            seeded=True,
        )
        for n, (text, expect) in enumerate(
            [
                ("{bad", ("--patch", "not valid JSON")),
                ("[1]", ("--patch", "JSON object", "'[1]'")),
                ('{"spec": {"cidr": "bogus"}}', ("field spec.cidr", "'bogus'")),
                ('{"spec": {"blockSize": "x"}}', ("field spec.blockSize", "'x'")),
            ]
        )
    ),
    Case(
        "patch-type",
        ("patch", "ippool", "p1", "-t", "bogus", "-p", "{}"),
        ("'--type'", "'bogus'"),
        code=2,
    ),
    # -- where the datastore is -------------------------------------------------------------------
    Case(
        "config-missing",
        ("get", "ippool", "-c", "missing.cfg"),
        ("config file missing.cfg does not exist",),
    ),
    Case(
        "config-unknown-field",
        ("get", "ippool", "-c", "c.cfg"),
        ("c.cfg", "spec.bogus"),
        files={"c.cfg": config("  bogus: 1")},
    ),
    Case(
        "config-datastore-type",
        ("apply", "-f", "p1.yaml", "-c", "c.cfg"),
        ("c.cfg", "spec.datastoreType=bogus"),
        files={**P1_FILES, "c.cfg": config("  datastoreType: bogus")},
        untouched=True,
    ),
    Case(
        "config-not-yaml",
        ("get", "ippool", "-c", "c.cfg"),
        ("c.cfg", "not valid YAML", "line 5"),
        files={"c.cfg": config("\tdatastoreType: sqlite")},
    ),
    Case(
        "env-datastore-type",
        ("apply", "-f", "p1.yaml"),
        ("DATASTORE_TYPE=bogus",),
        files=P1_FILES,
        env={"DATASTORE_TYPE": "bogus"},
        untouched=True,
    ),
    Case(
        "env-etcd-endpoints",
        ("get", "ippool"),
        ("ETCD_ENDPOINTS=not-a-url",),
        env={"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": "not-a-url"},
    ),
    Case(
        "env-etcd-tls-file",
        ("get", "ippool"),
        ("ETCD_CA_CERT_FILE=/nonexistent/ca.pem",),
        env={"DATASTORE_TYPE": "etcdv3", "ETCD_CA_CERT_FILE": "/nonexistent/ca.pem"},
    ),
    Case(
        "etcd-unreachable-get",
        ("get", "ippool"),
        ("etcd", "http://127.0.0.1:1"),
        env={"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": "http://127.0.0.1:1"},
    ),
    Case(
        "etcd-unreachable-apply",
        ("apply", "-f", "p1.yaml"),
        ("etcd", "http://127.0.0.1:1"),
        files=P1_FILES,
        env={"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": "http://127.0.0.1:1"},
    ),
    # -- ipam -----------------------------------------------------------------------------------
    Case("ipam-show-ip", ("ipam", "show", "--ip", "notanip"), ("'--ip'", "'notanip'"), code=2),
    Case(
        "ipam-release-ip",
        ("ipam", "release", "--ip", "10.1.0.1", "--ip", "999.1.1.1"),
        ("'--ip'", "'999.1.1.1'"),
        code=2,
        untouched=True,
    ),
    Case(
        "ipam-configure-max-blocks",
        ("ipam", "configure", "--max-blocks-per-host", "-1"),
        ("'--max-blocks-per-host'", "-1"),
        code=2,
        untouched=True,
    ),
    Case(
        "ipam-release-report-missing",
        ("ipam", "release", "--from-report", "missing.json"),
        ("--from-report missing.json", "No such file"),
        untouched=True,
    ),
    Case(
        "ipam-release-report-not-json",
        ("ipam", "release", "--from-report", "r.json"),
        ("--from-report r.json", "cannot read report"),
        files={"r.json": "{"},
        untouched=True,
    ),
    Case(
        "ipam-check-output-unwritable",
        ("ipam", "check", "-o", "no-such-dir/report.json"),
        ("--output no-such-dir/report.json", "No such file"),
    ),
]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Outcome:
    run: Run
    after: Run | None
    db_exists: bool
    p1: str | None  # the stored IPPool p1 afterwards, for seeded cases


def _calicoctl(args: tuple[str, ...], cwd: Path, env: Mapping[str, str]) -> Run:
    proc = subprocess.run(
        [CALICOCTL, *args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _environment(directory: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATASTORE_", "CALICO_", "ETCD_"))
    }
    env |= {"DATASTORE_TYPE": "sqlite", "CALICO_SQLITE_PATH": str(directory / DB)}
    return env | dict(extra)


def _stored_p1(directory: Path) -> str | None:
    with SqliteDatastore(str(directory / DB)) as ds:
        kv = ds.get(resource_key("IPPool", "p1"))
    return None if kv is None else kv.value


def _seed(directory: Path) -> str:
    """A datastore holding IPPool p1 (made once, copied into every seeded case)."""
    directory.mkdir(parents=True)
    (directory / "p1.yaml").write_text(GOOD)
    run = _calicoctl(("create", "-f", "p1.yaml"), directory, _environment(directory, {}))
    assert run.code == 0, run.stderr
    p1 = _stored_p1(directory)
    assert p1 is not None
    return p1


def _run_case(case: Case, directory: Path, seed: Path) -> Outcome:
    directory.mkdir(parents=True)
    if case.seeded:
        shutil.copy(seed / DB, directory / DB)
    for name, text in case.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    run = _calicoctl(case.args, directory, _environment(directory, case.env))
    after = None
    if case.after is not None:
        after = _calicoctl(case.after[0], directory, _environment(directory, {}))
    exists = (directory / DB).exists()
    return Outcome(run, after, exists, _stored_p1(directory) if case.seeded else None)


@pytest.fixture(scope="module")
def seeded_p1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    seed = tmp_path_factory.mktemp("bad-input-seed")
    return seed, _seed(seed / "db")


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, seeded_p1: tuple[Path, str]
) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad-input-calicoctl")
    seed = seeded_p1[0] / "db"
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 2))) as executor:
        futures = {
            case.id: executor.submit(_run_case, case, root / case.id, seed) for case in CASES
        }
        return {case_id: future.result() for case_id, future in futures.items()}


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_one_clear_line(
    case: Case, outcomes: dict[str, Outcome], seeded_p1: tuple[Path, str]
) -> None:
    outcome = outcomes[case.id]
    run = outcome.run
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert run.code == case.code, run.stderr
    for text in case.expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert "Successfully" not in run.stdout
    if case.untouched:
        assert not outcome.db_exists, "the datastore was opened for input that was rejected"
    if case.seeded:
        assert outcome.p1 == seeded_p1[1], "IPPool p1 changed"
    if case.after is not None:
        assert outcome.after is not None
        assert outcome.after.code == 0, outcome.after.stderr
        assert outcome.after.stdout.split() == case.after[1]


def test_no_arguments_still_shows_the_whole_help(tmp_path: Path) -> None:
    """Usage errors are one line, but a bare group still prints its help (click's way)."""
    run = _calicoctl(("ipam",), tmp_path, _environment(tmp_path, {}))
    assert "Usage: calicoctl ipam" in run.stdout + run.stderr
    assert "Commands:" in run.stdout + run.stderr
