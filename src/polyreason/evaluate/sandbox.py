"""Run untrusted Python (a model's completions) in a sandbox with hard limits.

Every program runs in its own process with CPU-time, address-space, file-size and process-count limits
(``setrlimit``), a wall-clock timeout enforced from outside, and stdout/stderr written to files whose size
the file-size limit caps (gigabytes of output stop at the limit). The isolation around it, best first:

``bwrap`` (bubblewrap, Debian package ``bubblewrap``)
    New pid, network, IPC and UTS namespaces (and a user namespace when not run as root): no network, not
    even loopback to the host; an empty root holding read-only binds of ``/usr``, ``/lib*``, ``/bin`` and the
    interpreter's prefix only (no home directory, no project files, no ``/etc`` beyond the loader cache); a
    private size-limited tmpfs at ``/tmp`` and at ``/sandbox`` (the working directory, the only writable
    places); its own ``/proc``; killed with everything it started when the run times out. Run as root,
    the program drops to an unused uid first, so it holds no privilege and the process limit applies.
``unshare`` (util-linux; used when bwrap is missing)
    The same namespaces through ``unshare``; the filesystem is the host's, re-mounted read-only
    recursively, with every non-system top-level directory
    (anything but ``/usr``, ``/lib*``, ``/bin``, ``/etc``, ...) and the home directory hidden under empty tmpfs mounts and private tmpfs ``/tmp`` and
    ``/sandbox``; capabilities dropped before the program starts.
``none`` (only with ``allow_unsafe=True``, the CLI's ``--unsafe-no-sandbox``)
    Resource limits, a new session and a private temporary working directory only: the network is
    reachable and the program can write wherever the user can. Never chosen automatically.

:func:`resolve_kind` picks the first that works here (probing it once) or raises a ``UserError`` that says
how to install bubblewrap.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from polyreason.errors import UserError

log = logging.getLogger(__name__)

KINDS = ("auto", "bwrap", "unshare", "none")
SANDBOX_DIR = "/sandbox"
MAIN = "main.py"
# The uids a root-run sandbox drops to: far above any real account, one per concurrent run.
_UID_BASE = 1_500_000_000
_uid_counter = iter(range(10**9))
_uid_lock = threading.Lock()

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap); "
    "if it is installed but fails, unprivileged user namespaces are disabled (sysctl "
    "kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0); "
    "or, on a throwaway machine only, pass --unsafe-no-sandbox"
)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program run.

    ``timeout``: wall-clock seconds (the CPU-time limit is the same, rounded up); ``memory_mb``: address
    space; ``file_mb``: the largest file it may write, stdout and stderr included; ``processes``: processes
    and threads it may run at once; ``tmp_mb``: size of each private tmpfs (``/tmp``, ``/sandbox``).
    """

    timeout: float = 10.0
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 32
    tmp_mb: int = 64

    def __post_init__(self) -> None:
        if self.timeout <= 0 or min(self.memory_mb, self.file_mb, self.processes, self.tmp_mb) < 1:
            raise UserError(f"sandbox limits must be positive, got {self}")

    def rlimits(self) -> dict[str, int]:
        """``resource`` constant name → limit, as the launcher applies them."""
        return {
            "RLIMIT_CPU": math.ceil(self.timeout) + 1,
            "RLIMIT_AS": self.memory_mb << 20,
            "RLIMIT_FSIZE": self.file_mb << 20,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_CORE": 0,
        }


@dataclass(frozen=True)
class Outcome:
    """What one run did: exit status (negative = killed by that signal), output, wall time."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Exited 0 within the limits."""
        return self.returncode == 0 and not self.timed_out

    def reason(self) -> str:
        """One word for the samples file: passed, timeout, killed:SIGNAME or exit:N."""
        if self.timed_out:
            return "timeout"
        if self.returncode == 0:
            return "passed"
        if self.returncode is not None and self.returncode < 0:
            try:
                return f"killed:{signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed:{-self.returncode}"
        return f"exit:{self.returncode}"


# The launcher runs inside the sandbox before any model-written code: drop to the given uid (root-run
# sandboxes), apply the limits (inside the new user namespace, so the process count starts at zero), then run
# the program as __main__ in the same interpreter.  The interpreter starts with -I -S: no environment
# variables, no user or site packages (standard library only) and none of this machine's .pth start-up
# hooks, which cost ~60 ms a run here; exit()/quit() are provided as site would.
_LAUNCHER = """\
import builtins, sys
def _setup(uid, main, *limits):
    import os, resource
    if uid != "-":
        os.setgroups([])
        os.setresgid(int(uid), int(uid), int(uid))
        os.setresuid(int(uid), int(uid), int(uid))
    for item in limits:
        name, value = item.split("=")
        resource.setrlimit(getattr(resource, name), (int(value), int(value)))
    with open(main, "rb") as handle:
        return compile(handle.read(), main, "exec")
_code = _setup(*sys.argv[1:])
builtins.exit = builtins.quit = sys.exit
sys.dont_write_bytecode = True
sys.argv = [_code.co_filename]
exec(_code, {"__name__": "__main__", "__file__": _code.co_filename, "__builtins__": builtins})
"""


def _launcher_args(uid: int | None, main: str, rlimits: dict[str, int]) -> list[str]:
    return ["-" if uid is None else str(uid), main] + [f"{k}={v}" for k, v in rlimits.items()]


def interpreter() -> str:
    """The Python the sandbox runs: ``POLYREASON_SANDBOX_PYTHON``, else the base interpreter (not a venv's)."""
    chosen = os.environ.get("POLYREASON_SANDBOX_PYTHON") or getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(chosen)


def _interpreter_roots(python: str) -> list[str]:
    """Directories outside /usr the interpreter needs: its prefix (e.g. a pyenv or conda install) and bin dir."""
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    prefix = os.path.realpath(sys.base_prefix) if python == base else os.path.dirname(os.path.dirname(python))
    roots: list[str] = []
    for path in (prefix, os.path.dirname(python)):
        inside = any(path == r or path.startswith(r + "/") for r in roots)
        if path != "/usr" and not path.startswith("/usr/") and not inside and os.path.isdir(path):
            roots.append(path)
    return roots


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _bwrap_argv(python: str, limits: Limits, host_dir: Path, as_root: bool) -> list[str]:
    argv = ["bwrap", "--die-with-parent", "--new-session", "--clearenv", "--hostname", "sandbox"]
    if as_root:  # root needs no user namespace; it keeps only the caps the launcher needs to drop its uid
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-all"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for extra in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        argv += ["--ro-bind-try", extra, extra]
    made: set[str] = set()
    for root in _interpreter_roots(python):
        for parent in _parents(root + "/x"):
            if parent != root and parent not in made and not parent.startswith("/usr"):
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--ro-bind", root, root]
    size = str(limits.tmp_mb << 20)
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
             "--size", size, "--perms", "1777", "--tmpfs", SANDBOX_DIR,
             "--ro-bind", str(host_dir / MAIN), f"{SANDBOX_DIR}/{MAIN}",
             "--chdir", SANDBOX_DIR,
             "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", SANDBOX_DIR,
             "--setenv", "LANG", "C.UTF-8", "--setenv", "TMPDIR", "/tmp", "--setenv", "PYTHONHASHSEED", "0"]
    return argv + ["--"]


def _unshare_argv() -> list[str]:
    return ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--net", "--ipc", "--uts", "--propagation", "private"]


# Run by the unshare backend as the new namespace's root, before the launcher: a private tmpfs /tmp holding
# the working directory, home-like directories hidden under empty tmpfs mounts (the interpreter's prefix bound
# back), the whole tree made read-only with one recursive mount_setattr(2) (Linux >= 5.12; it fails closed),
# then no-new-privileges and every capability dropped.
_UNSHARE_SETUP = """\
import ctypes, json, os, sys
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MNT_DETACH = 2, 4, 4096, 16384, 2
def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        sys.exit(f"sandbox setup: {what}: {os.strerror(err)}; refusing to run")
def mount(src, dst, fstype, flags, data=None):
    check(libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None, flags,
                     data.encode() if data else None), f"mount {dst}")
class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]
def setattr_(path, attr_set, attr_clr, recursive):
    attr = MountAttr(attr_set, attr_clr, 0, 0)
    flags = 0x8000 if recursive else 0  # AT_RECURSIVE
    check(libc.syscall(442, -100, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)),
          f"mount_setattr {path}")
RDONLY, NOSUID, NODEV = 1, 2, 4
main = open(spec["main_host"], "rb").read()
size = spec["tmp_bytes"]
mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
os.makedirs(spec["sandbox"])
with open(spec["sandbox"] + "/main.py", "wb") as dst:
    dst.write(main)
staged = []
for i, keep in enumerate(spec["keep"]):
    stage = f"/tmp/.keep{i}"
    os.makedirs(stage)
    mount(keep, stage, None, MS_BIND | MS_REC)
    staged.append((stage, keep))
for hidden in spec["hide"]:
    mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "size=65536,mode=0755")
for stage, keep in staged:
    os.makedirs(keep, exist_ok=True)
    mount(stage, keep, None, MS_BIND | MS_REC)
    check(libc.umount2(stage.encode(), MNT_DETACH), f"umount {stage}")
    os.rmdir(stage)
setattr_("/", RDONLY | NOSUID | NODEV, 0, True)
setattr_("/tmp", NOSUID | NODEV, RDONLY, False)
for probe in ("/", "/usr", spec["python"]):
    if os.access(probe, os.W_OK):
        sys.exit(f"sandbox setup: {probe} is still writable; refusing to run")
os.chdir(spec["sandbox"])
check(libc.prctl(38, 1, 0, 0, 0), "no_new_privs")  # PR_SET_NO_NEW_PRIVS
for cap in range(64):
    libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (EINVAL past the last cap)
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
check(libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")
os.environ.clear()
os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": spec["sandbox"], "LANG": "C.UTF-8",
                   "TMPDIR": "/tmp", "PYTHONHASHSEED": "0"})
os.execv(spec["python"], spec["launcher"])
"""
UNSHARE_SANDBOX_DIR = "/tmp/sandbox"


# Top-level directories a program needs to run: everything else under / (wherever a checkout, a home or a
# data volume lives: /work, /check, /data, ...) is hidden, so containment does not depend on a list of names.
SYSTEM_DIRS = frozenset({"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/dev", "/proc",
                         "/sys", "/tmp", "/run"})


def _hidden_dirs(python: str) -> tuple[list[str], list[str]]:
    """Directories the unshare backend hides (every non-system top-level directory and the home directory),
    and the interpreter roots inside them it binds back."""
    tops = {os.path.join("/", name) for name in os.listdir("/")}
    candidates = {p for p in tops | {os.path.expanduser("~")}
                  if p not in SYSTEM_DIRS and os.path.isdir(p) and not os.path.islink(p) and p != "/"}
    hide = sorted(candidates)
    hide = [p for p in hide if not any(p.startswith(q + "/") for q in hide)]
    keep = [r for r in _interpreter_roots(python) if any(r.startswith(h + "/") for h in hide)]
    return hide, keep


class Sandbox:
    """Runs Python programs under :class:`Limits` with the isolation of ``kind`` (see the module doc).

    >>> box = Sandbox()                                      # doctest: +SKIP
    >>> box.run("print(input()[::-1])", stdin="abc").stdout  # doctest: +SKIP
    'cba\\n'
    """

    def __init__(self, kind: str = "auto", limits: Limits | None = None, *, allow_unsafe: bool = False,
                 python: str | None = None):
        self.python = os.path.realpath(python) if python else interpreter()
        self.limits = limits or Limits()
        self.kind = resolve_kind(kind, allow_unsafe=allow_unsafe, python=self.python)

    def run(self, source: str, stdin: str = "", limits: Limits | None = None) -> Outcome:
        """Run ``source`` as ``main.py`` with ``stdin``; never raises for anything the program does."""
        return _run(self.kind, self.python, source, stdin, limits or self.limits)

    def run_many(self, jobs: Sequence[tuple[str, str]], *, workers: int | None = None,
                 limits: Limits | None = None) -> list[Outcome]:
        """Run ``(source, stdin)`` jobs concurrently (``workers`` processes at a time); results in job order."""
        workers = workers or default_workers()
        if workers <= 1 or len(jobs) <= 1:
            return [self.run(src, inp, limits) for src, inp in jobs]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda job: self.run(job[0], job[1], limits), jobs))


def default_workers() -> int:
    """Concurrent sandboxed programs: the CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _next_uid() -> int:
    with _uid_lock:
        return _UID_BASE + (os.getpid() % 100_000) * 1000 + next(_uid_counter) % 1000


def _command(kind: str, python: str, limits: Limits, host_dir: Path) -> tuple[list[str], str | None]:
    """argv for one run and the working directory to start it in (None = inherit)."""
    as_root = os.geteuid() == 0
    launcher = [python, "-I", "-S", "-c", _LAUNCHER]
    if kind == "bwrap":
        uid = _next_uid() if as_root else None
        return _bwrap_argv(python, limits, host_dir, as_root) + launcher + _launcher_args(
            uid, MAIN, limits.rlimits()), None
    if kind == "unshare":
        hide, keep = _hidden_dirs(python)
        spec = {"sandbox": UNSHARE_SANDBOX_DIR, "main_host": str(host_dir / MAIN), "tmp_bytes": limits.tmp_mb << 20,
                "hide": hide, "keep": keep, "python": python,
                "launcher": launcher + _launcher_args(None, MAIN, limits.rlimits())}
        return _unshare_argv() + [python, "-I", "-S", "-c", _UNSHARE_SETUP, json.dumps(spec)], None
    # none: own session, limits, private cwd; the process limit counts the user's other processes too
    rl = limits.rlimits()
    if not as_root:
        rl["RLIMIT_NPROC"] = _user_process_count() + limits.processes
    return launcher + _launcher_args(None, str(host_dir / MAIN), rl), str(host_dir)


def _user_process_count() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _run(kind: str, python: str, source: str, stdin: str, limits: Limits) -> Outcome:
    host_dir = Path(tempfile.mkdtemp(prefix="polyreason-sandbox-"))
    try:
        (host_dir / MAIN).write_text(source, encoding="utf-8")
        if kind == "none":
            os.chmod(host_dir, 0o700)
        argv, cwd = _command(kind, python, limits, host_dir)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"} if kind != "none" else {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(host_dir), "LANG": "C.UTF-8", "TMPDIR": str(host_dir)}
        out_path, err_path = host_dir / ".stdout", host_dir / ".stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            began = time.monotonic()
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=cwd, env=env,
                                    start_new_session=True, close_fds=True)
            timed_out = _feed_and_wait(proc, stdin.encode("utf-8"), limits.timeout)
            seconds = time.monotonic() - began
        cap = limits.file_mb << 20
        returncode = proc.returncode
        if returncode == -signal.SIGXCPU or returncode == 128 + signal.SIGXCPU:
            timed_out = True
        return Outcome(returncode, _read(out_path, cap), _read(err_path, cap), seconds, timed_out)
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)


def _feed_and_wait(proc: subprocess.Popen, data: bytes, timeout: float) -> bool:
    """Write stdin (from a thread, so a program that never reads cannot block us), wait; True if killed."""

    def feed() -> None:
        try:
            if data:
                proc.stdin.write(data)
            proc.stdin.close()
        except OSError:
            pass  # the program exited or closed stdin

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        proc.wait(timeout=timeout)
        return False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()
        return True
    finally:
        writer.join(timeout=1.0)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def _read(path: Path, cap: int) -> str:
    with open(path, "rb") as handle:
        return handle.read(cap).decode("utf-8", errors="replace")


@lru_cache(maxsize=8)
def probe(kind: str, python: str) -> str | None:
    """None if ``kind`` runs a trivial program here, else the reason it does not."""
    if kind in ("bwrap", "unshare") and shutil.which(kind) is None:
        return f"{kind} is not installed"
    if kind == "unshare" and os.geteuid() == 0:
        return "the unshare backend does not run as root (the kernel exempts uid 0 from the process limit)"
    # isolated = no network interface but loopback (checked without sending a packet anywhere)
    check = "import socket\nprint('isolated' if {n for _, n in socket.if_nameindex()} <= {'lo'} else 'net')\n"
    outcome = _run(kind, python, check, "", Limits(timeout=20.0))
    if kind == "none":
        return None if outcome.ok else f"python failed: {outcome.stderr.strip()[-300:]}"
    if not outcome.ok or outcome.stdout.strip() != "isolated":
        return f"{kind} failed: {(outcome.stderr or outcome.stdout).strip()[-300:] or outcome.reason()}"
    return None


def resolve_kind(kind: str = "auto", *, allow_unsafe: bool = False, python: str | None = None) -> str:
    """The sandbox backend to use: ``kind`` if it works, or for ``auto`` the first of bwrap, unshare that does.

    ``none`` is returned only when ``allow_unsafe`` is set (asked for explicitly, or ``auto`` with nothing
    else working); otherwise a ``UserError`` says what failed and how to install bubblewrap.
    """
    if kind not in KINDS:
        raise UserError(f"unknown sandbox {kind!r}; fix: use one of {', '.join(KINDS)}")
    python = python or interpreter()
    if kind == "none":
        if not allow_unsafe:
            raise UserError("sandbox 'none' runs model-written code without isolation; fix: pass "
                            "--unsafe-no-sandbox to confirm, or install bubblewrap")
        log.warning("running model-written code WITHOUT a sandbox (resource limits only)")
        return "none"
    tried = []
    for candidate in ("bwrap", "unshare") if kind == "auto" else (kind,):
        failure = probe(candidate, python)
        if failure is None:
            return candidate
        tried.append(failure)
    if allow_unsafe:
        log.warning("no sandbox works here (%s); running model-written code WITHOUT one (resource limits only)",
                    "; ".join(tried))
        return "none"
    raise UserError(f"no sandbox for model-written code works here ({'; '.join(tried)}); fix: {INSTALL_HINT}")


def with_timeout(limits: Limits, timeout: float | None) -> Limits:
    """``limits`` with another wall-clock timeout (None keeps it)."""
    return limits if timeout is None else replace(limits, timeout=timeout)
