"""One atomic writer with an advisory lock, one JSONL reader: races, kills and bad paths give clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyreason.errors import UserError
from polyreason.files import (
    AtomicJsonl,
    OutputBusy,
    ResumableJsonl,
    atomic_write,
    iter_jsonl,
    output_lock,
    read_jsonl,
    read_text,
    write_json,
)

ENV = {**os.environ, "POLYREASON_PROGRESS": "0", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "polyreason.cli", *args]


def write_rows(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"completion": f"<think>{i} + 1 = {i + 1}</think> \\boxed{{{i + 1}}}",
                                 "answer": str(i + 1)}) + "\n")


def _wait_for(pred, proc: subprocess.Popen, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert proc.poll() is None, f"first run ended before {what}: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


# ------------------------------------------------------------------------------------- real processes


def test_two_score_runs_on_one_output_one_wins_the_other_exits_2(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 60000)
    first = subprocess.Popen(cli("score", "-i", str(inp), "-o", str(out), "-r", "accuracy"), env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # the first run has started writing: its lock (or, before the fix, its temporary file) exists
    _wait_for(lambda: any(p.name != "in.jsonl" for p in tmp_path.iterdir()), first, "output activity")
    second = subprocess.run(cli("score", "-i", str(inp), "-o", str(out), "-r", "format"), env=ENV,
                            capture_output=True, text=True, timeout=300)
    first_err = first.communicate(timeout=300)[1]
    assert (first.returncode, second.returncode) == (0, 2), (first_err[-1500:], second.stderr[-1500:])
    assert "is being written by PID" in second.stderr and f"PID {first.pid}" in second.stderr
    rows = list(read_jsonl(out))
    assert len(rows) == 60000 and all(set(r["rewards"]) == {"accuracy"} for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]  # no temp or lock left


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    target = tmp_path / "out.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from polyreason.files import atomic_write\n"
         f"with atomic_write({str(target)!r}) as fh:\n    fh.write('x'); print('ready', flush=True); time.sleep(60)"],
        env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    with pytest.raises(OutputBusy, match=rf"out.jsonl is being written by PID {holder.pid} \(started "):
        with atomic_write(target) as fh:
            fh.write("mine")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with atomic_write(target) as fh:  # the kernel dropped the dead holder's lock; its temp file is cleaned up
        fh.write("mine")
    assert target.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


# ------------------------------------------------------------------------------------- in-process


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_directory_lock_covers_files_inside_and_is_reentrant(tmp_path):
    run = tmp_path / "run"
    with output_lock(run, directory=True):
        with output_lock(run, directory=True):  # re-entrant in one process
            write_json(run / "summary.json", {"ok": True})  # covered: takes no lock of its own
        assert (run / ".polyreason.lock").exists()
        other = subprocess.run([sys.executable, "-c", "from polyreason.files import output_lock\n"
                                f"with output_lock({str(run)!r}, directory=True): pass"],
                               env=ENV, capture_output=True, text=True)
        assert other.returncode != 0 and "is being written by PID" in other.stderr
    assert sorted(p.name for p in run.iterdir()) == ["summary.json"]


def test_parquet_output_and_jsonl_count(tmp_path):
    import pyarrow.parquet as pq

    with AtomicJsonl(tmp_path / "t.parquet") as out:
        out.write({"a": 1})
        out.write({"a": 2})
    assert out.count == 2 and pq.read_table(tmp_path / "t.parquet").column("a").to_pylist() == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_resumable_writer_holds_the_lock_until_finished(tmp_path):
    w = ResumableJsonl(tmp_path / "r.jsonl")
    w.write({"id": "a"})
    other = subprocess.run([sys.executable, "-c", "from polyreason.files import write_text\n"
                            f"write_text({str(tmp_path / 'r.jsonl')!r}, 'x')"], env=ENV, capture_output=True, text=True)
    assert other.returncode != 0 and "r.jsonl is being written by PID" in other.stderr
    w.close()
    again = ResumableJsonl(tmp_path / "r.jsonl")
    assert again.done == {"a"}
    again.finish()
    assert [r["id"] for r in read_jsonl(tmp_path / "r.jsonl")] == ["a"]


@pytest.mark.parametrize("kind", ["is-a-directory", "parent-is-a-file", "read-only"])
def test_unwritable_outputs_are_user_errors(tmp_path, kind, readonly_dir):
    if kind == "is-a-directory":
        target, message = tmp_path, "is a directory"
    elif kind == "parent-is-a-file":
        (tmp_path / "f").write_text("x")
        target, message = tmp_path / "f" / "out.jsonl", "is a file"
    else:
        target, message = readonly_dir() / "out.jsonl", "cannot write"
    with pytest.raises(UserError, match=message):
        write_json(target, {})


def test_reader_names_the_line_of_every_bad_row(tmp_path):
    path = tmp_path / "x.jsonl"
    for body, line, message in [
        (b'{"a": 1}\n\n{"a": \n', 3, "invalid JSON"),
        (b'{"a": 1}\n{"a": "caf\xe9"}\n', 2, "not valid UTF-8"),
        (b'{"a": 1}\n[1, 2]\n', 2, "expected a JSON object, got list"),
    ]:
        path.write_bytes(body)
        with pytest.raises(UserError, match=rf"x.jsonl:{line}: {message}"):
            list(read_jsonl(path))
        assert [obj for obj in read_jsonl(path, tolerant=True)] == [{"a": 1}]
    path.write_bytes(b'\n{"a": 1}\n{"b": 2}')
    assert list(iter_jsonl(path)) == [(2, {"a": 1}), (3, {"b": 2})]
    assert list(read_jsonl(tmp_path / "missing.jsonl", tolerant=True)) == []
    with pytest.raises(UserError, match="not found"):
        list(read_jsonl(tmp_path / "missing.jsonl"))


def test_read_text_names_the_line_and_column_of_invalid_utf8(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"name: a\nlanguage: \xff\n")
    with pytest.raises(UserError, match=r"r.yaml:2:11: .*not valid UTF-8"):
        read_text(path)
