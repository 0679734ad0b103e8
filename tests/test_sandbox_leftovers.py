"""What a sandboxed program leaves in its directory: links, FIFOs and hard links to outside files are removed
before Shoal (root in CI) writes ``stdout.txt`` or reads ``metrics.json`` there; set-uid bits are cleared.

Found by hand on 7 December 2026: a node whose program ran ``os.symlink("/some/root/file", "stdout.txt")`` made
Shoal overwrite that host file with the program's output, as root."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import exp_support as S
import pytest
from test_sandbox_escape import SETTINGS, _bwrap_or_skip

from agents.experiments.executor import execute
from agents.experiments.journal import Node
from agents.sandbox import leftovers, tree
from agents.sandbox.probes import PROBES, run_probe, scene
from agents.sandbox.tree import Walk


def test_scrub_keeps_files_and_folders_and_removes_the_rest(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host file\n")
    node = tmp_path / "node"
    (node / "results" / "deep").mkdir(parents=True)
    (node / "results" / "a.json").write_text("{}")
    (node / "ok.txt").write_text("kept")
    os.link(node / "ok.txt", node / "ok_again.txt")  # a hard link inside the tree is a file like any other
    (node / "stdout.txt").symlink_to(outside)
    (node / "results" / "deep" / "up").symlink_to(tmp_path)  # a link to a folder
    (node / "results" / "dangling.png").symlink_to("/no/such/file")
    os.mkfifo(node / "metrics.json")
    os.link(outside, node / "hard.txt")
    tool = node / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o4755)
    (node / "locked").mkdir()
    (node / "locked" / "eval.log").symlink_to(outside)
    (node / "locked").chmod(0)

    removed = leftovers.scrub(node)

    assert sorted(r.split(" ")[0] for r in removed) == [
        "hard.txt", "locked/eval.log", "metrics.json", "results/dangling.png", "results/deep/up", "stdout.txt",
    ]  # fmt: skip
    assert f"stdout.txt (symbolic link to {outside})" in removed and "metrics.json (FIFO)" in removed
    kinds = {p.relative_to(node).as_posix(): p.is_dir() for p in node.rglob("*")}
    assert kinds == {
        "results": True, "results/deep": True, "results/a.json": False, "ok.txt": False, "ok_again.txt": False,
        "tool": False, "locked": True,
    }  # fmt: skip
    assert (node / "ok_again.txt").read_text() == "kept" and outside.read_text() == "host file\n"
    assert not tool.stat().st_mode & stat.S_ISUID
    note = leftovers.note(removed)
    assert note.startswith("\n[shoal] removed what the program left") and "stdout.txt (symbolic link to" in note
    assert leftovers.scrub(node) == []


def test_write_own_replaces_what_the_program_left_under_the_name(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host file\n")
    (tmp_path / "a").symlink_to(outside)
    (tmp_path / "b" / "x").mkdir(parents=True)
    for name in ("a", "b"):
        leftovers.write_own(tmp_path / name, "shoal's own\n")
        assert (tmp_path / name).read_text() == "shoal's own\n" and not (tmp_path / name).is_symlink()
    assert outside.read_text() == "host file\n"


def test_a_node_cannot_make_shoal_write_or_read_a_host_file(tmp_path: Path) -> None:
    """The attack as it was found, through the real executor and sandbox: stdout.txt linked to a root-only host
    file, metrics.json to a secret in metrics form, a folder named stderr.txt."""
    victim = tmp_path / "victim.txt"
    victim.write_text("original\n")
    victim.chmod(0o600)
    secret = tmp_path / "secret.json"
    secret.write_text('{"metrics": [{"name": "stolen", "value": 42.0}]}')
    secret.chmod(0o600)
    code = (
        f"import os\nos.symlink({str(victim)!r}, 'stdout.txt')\nos.symlink({str(secret)!r}, 'metrics.json')\n"
        "os.makedirs('stderr.txt/inner')\nprint('written through the link')\n"
    )
    node = Node(stage=1, kind="draft", code=code)
    execute(S.sandbox(), tmp_path / "run", node, 60)
    d = tmp_path / "run" / "nodes" / node.id
    assert victim.read_text() == "original\n"
    assert (d / "stdout.txt").read_text().strip() == "written through the link"
    assert (d / "stderr.txt").is_file() and "symbolic link to" in (d / "stderr.txt").read_text()
    assert node.is_buggy and "no metrics.json" in node.bug_reason and not node.metric.metrics


def test_the_links_probe_finds_links_when_nothing_removes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the escape suite's links probe: with the scrub switched off it reports the breach."""
    _bwrap_or_skip()
    monkeypatch.setattr(leftovers, "scrub", lambda root: [])
    probe = next(p for p in PROBES if p.name == "links")
    with scene() as sc:
        outcome = run_probe(probe, sc, SETTINGS)
    assert not outcome.blocked
    assert "left in the node directory" in outcome.detail and "stdout.txt" in outcome.detail


def test_outputs_too_large_to_load_are_refused_not_read(tmp_path: Path) -> None:
    """What Shoal loads into its own memory from a node is bounded: a sparse 17 MiB metrics.json is refused with a
    reason the coder can act on; plots are recognised by their first bytes only."""
    from agents.experiments.executor import MAX_METRICS_BYTES, collect_plots, read_metrics

    with (tmp_path / "metrics.json").open("wb") as fh:
        fh.truncate(MAX_METRICS_BYTES + (1 << 20))
    metric, why = read_metrics(tmp_path)
    assert metric is None and "metrics.json is 17 MiB (more than 16 MiB)" in why
    (tmp_path / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (tmp_path / "fake.png").write_bytes(b"GIF89a")
    assert collect_plots(tmp_path) == (["ok.png"], "invalid")


DEEP = """
import os
for i in range({levels}):
    os.mkdir({name!r})
    os.chdir({name!r})
with open("leaf.bin", "wb") as fh:
    fh.write(b"x" * 4096)
print("DEEP DONE", flush=True)
"""


@pytest.mark.parametrize(("levels", "name"), [(3000, "d"), (20, "n" * 200)])
def test_a_tree_too_deep_to_walk_is_removed_and_stops_the_run(tmp_path: Path, levels: int, name: str) -> None:
    """Found by hand on 7 December 2026: 3,000 nested folders made Shoal's own walk raise RecursionError (os.walk
    recurses), ending the whole command; paths past PATH_MAX hid what was in them from the disk watcher. Deep or
    long parts are now removed and the run is judged by the file limit; both shapes are tried: many levels, and
    few levels of long names."""
    node = tmp_path / "node"
    node.mkdir()
    (node / "code.py").write_text(DEEP.format(levels=levels, name=name))
    res = S.sandbox().run(node, ["python", "code.py"])
    assert res.killed_reason == "files" and "nested at most 32 deep" in (res.verdict or "")
    assert "(folders nested over 32 deep or too long)" in res.stderr
    deepest = max((len(e.path) for e in Walk(str(node))), default=0)
    assert deepest <= tree.MAX_PATH + 300 and len(list(Walk(str(node)))) <= 40
    shutil.rmtree(node)  # what Shoal does to a node directory later works again


def test_remove_tree_takes_any_depth(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir("top", dir_fd=fd)
    cur = os.open("top", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    for _ in range(2500):
        os.mkdir("d", dir_fd=cur)
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    os.close(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=cur))
    os.close(cur)
    os.close(fd)
    walk = Walk(str(tmp_path))
    assert sum(e.too_deep for e in walk) == 1 and len(walk.hidden) == 1
    tree.remove_tree(str(tmp_path / "top"))
    assert list(tmp_path.iterdir()) == []
