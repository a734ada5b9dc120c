"""The code sandbox: hostile programs are contained, time out or fail, and never outlast the limits."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyreason.errors import UserError
from polyreason.evaluate import sandbox as sb
from polyreason.evaluate.sandbox import Limits, Sandbox

REPO = Path(__file__).resolve().parents[1]
FAST = Limits(timeout=1.5, memory_mb=512, file_mb=4, processes=16, tmp_mb=16)
SLACK = 3.0  # seconds a killed run may take beyond its timeout on a loaded 2-core machine


@pytest.fixture(scope="module")
def box() -> Sandbox:
    try:
        return Sandbox("auto", FAST)
    except UserError as exc:
        if os.environ.get("CI"):
            raise  # CI installs bubblewrap (scripts/setup.sh): a missing sandbox there is a failure
        pytest.skip(f"no sandbox here: {exc}")


def _run_timed(box: Sandbox, source: str, stdin: str = "") -> tuple[sb.Outcome, float]:
    began = time.monotonic()
    outcome = box.run(source, stdin=stdin)
    return outcome, time.monotonic() - began


def test_runs_a_program_with_stdin_and_reports_its_exit(box: Sandbox) -> None:
    ok = box.run("import sys\nprint(sys.stdin.read().strip()[::-1])", stdin="abc\n")
    assert ok.ok and ok.stdout == "cba\n" and ok.reason() == "passed"
    failed = box.run("raise SystemExit(3)")
    assert not failed.ok and failed.returncode == 3 and failed.reason() == "exit:3"
    crashed = box.run("assert 1 == 2, 'nope'")
    assert crashed.returncode == 1 and "AssertionError: nope" in crashed.stderr
    assert box.run("exit(0)").ok  # exit()/quit() exist as under site


def test_the_program_holds_no_privilege(box: Sandbox) -> None:
    status = box.run("print(open('/proc/self/status').read())").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0 and fields["NoNewPrivs"].strip() == "1"
    if os.geteuid() == 0:  # root-run sandboxes drop to an unused uid
        assert fields["Uid"].split()[0] != "0"
    assert box.run("import os\nos.setuid(12345)").returncode == 1  # no CAP_SETUID left


def test_writing_outside_the_sandbox_fails(box: Sandbox, tmp_path: Path) -> None:
    target = REPO / "SANDBOX_ESCAPE_PROBE"
    outside = tmp_path / "outside.txt"
    source = (
        "import os\nhits = []\n"
        f"for path in [{str(target)!r}, {str(outside)!r}, '/usr/probe', '/etc/probe', os.path.expanduser('~/p')]:\n"
        "    try:\n        open(path, 'w').write('x')\n        hits.append(path)\n    except OSError:\n        pass\n"
        "open('inside.txt', 'w').write('ok')\nopen('/tmp/scratch', 'w').write('ok')\nprint(hits)\n"
    )
    outcome = box.run(source)
    assert outcome.ok and outcome.stdout.strip() in ("[]", "['/sandbox/p']", "['/tmp/sandbox/p']"), outcome
    assert not target.exists() and not outside.exists() and not Path("/usr/probe").exists()


def test_reading_the_home_directory_and_project_fails(box: Sandbox) -> None:
    home = Path.home()
    source = (
        "import json, os\nseen = {}\n"
        f"for path in [{str(home)!r}, {str(REPO)!r}]:\n"
        "    try:\n        seen[path] = sorted(os.listdir(path))\n    except OSError as exc:\n"
        "        seen[path] = type(exc).__name__\n"
        f"try:\n    seen['read'] = open({str(REPO / 'pyproject.toml')!r}).read()[:10]\nexcept OSError:\n"
        "    seen['read'] = 'unreadable'\nprint(json.dumps(seen))\n"
    )
    outcome = box.run(source)
    assert outcome.ok, outcome
    seen = json.loads(outcome.stdout)
    assert seen["read"] == "unreadable" and not isinstance(seen[str(REPO)], list)
    # only the interpreter's own prefix may show through (e.g. /root/.pyenv when python lives there)
    visible = set(seen[str(home)]) if isinstance(seen[str(home)], list) else set()
    prefix_parts = set(Path(os.path.realpath(sys.base_prefix)).parts)
    assert not (visible & set(os.listdir(home))) - prefix_parts, visible


@pytest.fixture
def host_listener():
    """A TCP server on the host's loopback: a sandboxed program must not reach it (no packet leaves the host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    yield server.getsockname()[1], server
    server.close()


def test_no_network(box: Sandbox, host_listener) -> None:
    port, server = host_listener
    source = (
        "import json, socket\nout = {'interfaces': sorted(n for _, n in socket.if_nameindex())}\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n    out['host'] = 'reached'\n"
        "except OSError as exc:\n    out['host'] = type(exc).__name__\nprint(json.dumps(out))\n"
    )
    outcome = box.run(source)
    assert outcome.ok, outcome
    out = json.loads(outcome.stdout)
    assert out["interfaces"] in ([], ["lo"]) and out["host"] != "reached"
    with pytest.raises(TimeoutError):
        server.accept()  # nothing connected to the host's port


@pytest.mark.parametrize(
    "name, source",
    [
        ("infinite loop", "while True:\n    pass\n"),
        ("sleep", "import time\ntime.sleep(600)\n"),
        ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
        ("ignores SIGTERM", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)\n"),
    ],
)
def test_runaway_programs_are_killed_at_the_timeout(box: Sandbox, name: str, source: str) -> None:
    outcome, seconds = _run_timed(box, source)
    assert outcome.timed_out and not outcome.ok and outcome.reason() == "timeout", (name, outcome)
    assert FAST.timeout - 0.1 <= seconds <= FAST.timeout + SLACK, (name, seconds)


def test_process_count_is_limited(box: Sandbox) -> None:
    source = (
        "import os, time\nn = 0\nfor _ in range(500):\n    try:\n        pid = os.fork()\n    except OSError:\n"
        "        break\n    if pid == 0:\n        time.sleep(3)\n        os._exit(0)\n    n += 1\nprint(n)\n"
    )
    outcome = box.run(source)
    assert outcome.ok and 0 < int(outcome.stdout) < FAST.processes, outcome


def test_gigabytes_of_output_stop_at_the_file_limit(box: Sandbox) -> None:
    outcome, seconds = _run_timed(box, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert not outcome.ok and len(outcome.stdout) <= FAST.file_mb << 20
    assert seconds <= FAST.timeout + SLACK
    big_file = box.run("open('big', 'wb').write(b'0' * (64 << 20))")
    assert not big_file.ok  # the file-size limit (4 MiB) and the tmpfs size both stop it


def test_memory_is_limited(box: Sandbox) -> None:
    outcome = box.run("x = bytearray(2 << 30)\nprint('allocated')")
    assert not outcome.ok and "allocated" not in outcome.stdout and "MemoryError" in outcome.stderr


def test_background_children_die_with_the_run(box: Sandbox) -> None:
    marker = f"polyreason-orphan-{os.getpid()}"
    source = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
        f"    os.execv('/bin/sh', ['/bin/sh', '-c', 'exec -a {marker} sleep 30'])\nprint('parent exits')\n"
    )
    outcome = box.run(source)
    assert outcome.ok
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert marker not in ps


def test_hostile_runs_in_parallel_stay_bounded(box: Sandbox) -> None:
    jobs = [("while True:\n    pass\n", "")] * 4 + [("print(sum(range(10)))", "")] * 4
    began = time.monotonic()
    outcomes = box.run_many(jobs, workers=4)
    assert [o.timed_out for o in outcomes] == [True] * 4 + [False] * 4
    assert all(o.stdout == "45\n" for o in outcomes[4:])
    assert time.monotonic() - began <= 2 * FAST.timeout + SLACK


def test_refuses_to_run_without_a_sandbox_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb, "probe", lambda kind, python: f"{kind} is not installed")
    with pytest.raises(UserError, match="--unsafe-no-sandbox") as info:
        sb.resolve_kind("auto")
    assert "apt-get install bubblewrap" in str(info.value)
    with pytest.raises(UserError, match="--unsafe-no-sandbox"):
        sb.resolve_kind("none")
    with pytest.raises(UserError, match="unknown sandbox"):
        sb.resolve_kind("docker")
    assert sb.resolve_kind("auto", allow_unsafe=True) == "none"


def test_unsafe_mode_still_applies_the_limits() -> None:
    box = Sandbox("none", FAST, allow_unsafe=True)
    outcome, seconds = _run_timed(box, "while True:\n    pass\n")
    assert outcome.timed_out and seconds <= FAST.timeout + SLACK
    assert "MemoryError" in box.run("x = bytearray(2 << 30)").stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare")
                    or not os.path.exists("/usr/bin/python3"), reason="needs root, setpriv, unshare, /usr/bin/python3")
def test_unshare_fallback_as_an_unprivileged_user() -> None:
    """The fallback backend (no bwrap), run as nobody with the system Python: same containment."""
    script = (
        "import json, time\nfrom polyreason.evaluate.sandbox import Limits, Sandbox\n"
        "box = Sandbox('unshare', Limits(timeout=1.5))\nout = {}\n"
        "out['hello'] = box.run('print(input()[::-1])', stdin='abc').stdout\n"
        f"out['write'] = box.run(\"open({str(REPO / 'ESCAPE')!r}, 'w')\").reason()\n"
        "out['net'] = box.run(\"import socket; assert {n for _, n in socket.if_nameindex()} <= {'lo'}\").reason()\n"
        f"out['read'] = box.run(\"open({str(REPO / 'pyproject.toml')!r})\").reason()\n"
        "t = time.monotonic(); out['loop'] = box.run('while True: pass').reason(); out['loop_s'] = time.monotonic() - t\n"
        "print(json.dumps(out))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONPATH": str(REPO / "src"),
           "POLYREASON_SANDBOX_PYTHON": "/usr/bin/python3"}
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                           script], capture_output=True, text=True, env=env, timeout=120, cwd="/")
    if proc.returncode != 0 and ("Permission denied" in proc.stderr or "No module named" in proc.stderr):
        pytest.skip(f"nobody cannot read the checkout or create namespaces here: {proc.stderr[-200:]}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["hello"] == "cba\n"
    assert out["write"].startswith("exit:") and out["net"] == "passed" and out["read"].startswith("exit:")
    assert out["loop"] == "timeout" and out["loop_s"] <= 1.5 + SLACK
    assert not (REPO / "ESCAPE").exists()


def test_unshare_hides_every_non_system_top_level_directory() -> None:
    """Wherever the checkout lives (/work, /check, /data, ...), the unshare backend hides it."""
    hide, _ = sb._hidden_dirs(sys.executable)
    top = "/" + REPO.resolve().parts[1]
    if top == "/tmp":  # a checkout under /tmp: the backend's private tmpfs over /tmp hides it instead
        assert "/tmp" in sb.SYSTEM_DIRS and 'mount("tmpfs", "/tmp"' in sb._UNSHARE_SETUP
    else:
        assert top in hide
    assert not set(hide) & sb.SYSTEM_DIRS
