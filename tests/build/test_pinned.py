"""What a clean clone installs is exactly what the repository locks.

- every Python lock (requirements*.txt) pins every package at one version with hashes, and holds each
  direct dependency of its .in file at the .in file's version (an edited .in without `make lock` fails);
- the environment `make setup` made holds exactly the lock's packages;
- the Makefile installs with hashes required: a lock whose hash does not match a package's file is
  refused (checked offline, with a wheel made here and the Makefile's own pip command);
- every cargo call in the Makefile and CI resolves dependencies from Cargo.lock (`--locked`).

    .venv/bin/python -m pytest -q tests/build
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ["requirements.txt", "tests/cfn/requirements-checkov.txt", "requirements-lock.txt"]
# A requirement line of a lock: `name==version \` or `name==version ; marker \`.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    """PEP 503's normalized name: what pip compares."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(path: Path) -> list[tuple[str, str, list[str]]]:
    """(name, version, hashes) of every requirement of a lock or .in file, continuation lines joined."""
    text = path.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"{path.relative_to(ROOT)}: {line!r} is not pinned with ==: every requirement must be"
        out.append((canonical(m.group(1)), m.group(3), re.findall(r"--hash=(sha256:[0-9a-f]{64})", line)))
    return out


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_pins_every_package_with_hashes_and_follows_its_in_file(lock):
    locked = requirements(ROOT / lock)
    assert locked, f"{lock} is empty"
    for name, version, hashes in locked:
        assert hashes, f"{lock}: {name}=={version} has no --hash: run `make lock`"
    versions: dict[str, set[str]] = {}
    for name, version, _ in locked:
        versions.setdefault(name, set()).add(version)
    source = ROOT / lock.replace(".txt", ".in")
    for name, version, _ in requirements(source):
        assert version in versions.get(name, set()), (
            f"{source.relative_to(ROOT)} asks for {name}=={version}, {lock} has "
            f"{sorted(versions.get(name, set())) or 'nothing'}: run `make lock` and commit the lock")


def test_the_environment_holds_exactly_what_the_lock_says():
    """.venv (this interpreter's environment) against requirements.txt, markers aside: a package the
    lock does not name, or at another version, came from somewhere else."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip(f"not running in the project's .venv ({sys.prefix}): `make setup` makes it")
    locked: dict[str, set[str]] = {}
    for name, version, _ in requirements(ROOT / "requirements.txt"):
        locked.setdefault(name, set()).add(version)
    # pip and setuptools come with the venv module, not from the lock.
    ours = {"pip", "setuptools"}
    stray = []
    for dist in importlib.metadata.distributions():
        name = canonical(dist.metadata["Name"])
        if name not in ours and dist.version not in locked.get(name, set()):
            stray.append(f"{name}=={dist.version}")
    assert not stray, f"installed but not locked (at that version): {sorted(stray)}; run `make setup`"


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel (PEP 427): metadata and a RECORD, no code."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test_pinned\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as whl:
        for file, text in files.items():
            whl.writestr(file, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
            record.append(f"{file},sha256={digest.decode()},{len(text.encode())}")
        record.append(f"{info}/RECORD,,")
        whl.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def makefile_pip_install(target: str) -> list[str]:
    """The pip command `make <target>` runs, as `make -n` prints it for a not-yet-made environment."""
    venv = f"/nonexistent/venv-{target.strip('.').replace('/', '-')}"
    out = subprocess.run(["make", "-n", "-s", "--no-print-directory", target, f"VENV={venv}"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if " install " in line and "/bin/pip" in line]
    assert len(lines) == 1, f"make -n {target} printed no single pip install:\n{out}"
    return shlex.split(lines[0])


@pytest.mark.parametrize("good", [True, False], ids=["matching-hash-installs", "other-hash-refused"])
def test_the_makefiles_install_refuses_a_hash_that_does_not_match(tmp_path, good):
    wheel = make_wheel(tmp_path, "pinnedprobe", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest() if good else "0" * 64
    lock = tmp_path / "lock.txt"
    lock.write_text(f"pinnedprobe==1.0 --hash=sha256:{digest}\n")
    command = makefile_pip_install("setup")
    assert "--require-hashes" in command, command
    # The same command with this venv's pip, the probe's lock, no index, and nothing installed.
    at = command.index("-r")
    command[at:at + 2] = ["-r", str(lock)]
    command[0] = str(Path(sys.executable).parent / "pip")
    command += ["--dry-run", "--no-index", "--find-links", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True)
    if good:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0 and "DO NOT MATCH THE HASHES" in result.stderr, result.stderr


# cargo subcommands that resolve the dependency graph, and so must not resolve it anew.
RESOLVING = {"build", "test", "clippy", "run", "check", "bench", "doc", "lambda", "install", "tree",
             "metadata"}


@pytest.mark.parametrize("path", ["Makefile", ".ci/run"])
def test_every_cargo_call_uses_the_lock(path):
    text = (ROOT / path).read_text().replace("\\\n", " ")
    calls = re.findall(r"(?:\$\(CARGO\)|\bcargo)\s+([a-z-]+)([^\n;&|]*)", text)
    missing = [f"cargo {sub}{rest}".strip() for sub, rest in calls if sub in RESOLVING and "--locked" not in rest]
    assert not missing, f"{path}: cargo calls without --locked (Cargo.lock would be re-resolved): {missing}"
    assert (ROOT / "Cargo.lock").is_file()
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "Cargo.lock"], cwd=ROOT, capture_output=True)
    assert tracked.returncode == 0, "Cargo.lock is not committed"
