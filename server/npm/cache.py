"""The content-addressed package cache: each npm tarball unpacked once under the data dir.

`<root>/<key>/` holds a package's files, `<root>/<key>.tgz` its tarball, where the key is the hex
SHA-512 of the tarball. The executors read files from there (sandbox/packages.py) and nothing
else; what is there was checked when it was unpacked:

- only regular files are written (no symlinks, hard links, devices), under the package
  directory only (no absolute paths, no `..`), with names the loader can ask for;
- the unpacked size and the number of files count against the action tree's limits, and the
  decompressed stream itself is bounded (tar headers too), so a gzip bomb ends the build;
- a package with a `binding.gyp` needs a native addon, which an isolate cannot load: its build
  fails saying so. Install scripts are never run.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError


@dataclass(frozen=True)
class NpmLimits:
    # unpacked size of an action's whole tree: aws-sdk v2 alone is 98 MiB, googleapis 113 MiB
    tree_max_bytes: int = 256 * 2**20
    tree_max_files: int = 10_000
    max_packages: int = 500
    file_max_bytes: int = 16 * 2**20  # sandbox/packages.py's FILE_MAX


class Budget:
    """What is left of one tree's limits while its packages are unpacked."""

    def __init__(self, limits: NpmLimits) -> None:
        self.limits = limits
        self.bytes = 0
        self.files = 0

    def add(self, what: str, size: int, files: int) -> None:
        self.bytes += size
        self.files += files
        if self.bytes > self.limits.tree_max_bytes:
            raise BuildError("package_too_large", f"The dependencies unpack to more than {size_text(self.limits.tree_max_bytes)} "
                                                  f"(the limit of an action's npm tree), at {what}.")
        if self.files > self.limits.tree_max_files:
            raise BuildError("package_too_large", f"The dependencies hold more than {self.limits.tree_max_files} files "
                                                  f"(the limit of an action's npm tree), at {what}.")


def size_text(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n} bytes"


def tarball_key(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def is_key(key: str) -> bool:
    return len(key) == 128 and all(c in "0123456789abcdef" for c in key)


class PackageCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def tarball(self, key: str) -> bytes | None:
        try:
            data = (self.root / f"{key}.tgz").read_bytes()
        except OSError:
            return None
        return data if tarball_key(data) == key else None

    def has(self, key: str) -> bool:
        """Whether the package is unpacked here (a directory appears whole: renamed into place);
        it counts as used now, which keeps sweep() away from it."""
        try:
            os.utime(self.root / key)
        except OSError:
            return False
        return True

    def sweep(self, keep: set[str], idle_seconds: float) -> int:
        """Remove the packages (and tarballs, and staging left by a crash) not in `keep` and not
        used for `idle_seconds`; how many packages went."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - idle_seconds
        removed = 0
        for entry in self.root.iterdir():
            key = entry.name[:-4] if entry.name.endswith(".tgz") else entry.name
            staging = entry.name.startswith(".unpack-")
            if (not staging and (not is_key(key) or key in keep)):
                continue
            try:
                if entry.lstat().st_mtime >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                    removed += 0 if staging else 1
                else:
                    entry.unlink()
            except OSError:
                continue  # in use or gone meanwhile: the next sweep
        return removed

    def files(self, key: str) -> list[str] | None:
        """The package's files if it is unpacked here, else None."""
        base = self.root / key
        if not base.is_dir():
            return None
        out = []
        for folder, _, names in os.walk(base):
            rel = Path(folder).relative_to(base)
            out.extend(str(rel / n) if rel.parts else n for n in names)
        return sorted(out)

    def unpack(self, key: str, data: bytes, what: str, budget: Budget | None = None,
               limits: NpmLimits = NpmLimits()) -> list[str]:
        """Unpack `data` (whose key the caller has checked) unless it is here already; the
        package's files, counted against `budget`."""
        files = self.files(key) if self.has(key) else None
        if files is None:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".unpack-{key[:16]}-{uuid.uuid4().hex}"
            try:
                files = _extract(data, staging, what, budget.limits if budget else limits)
                tgz = self.root / f"{key}.tgz"
                if not tgz.exists():
                    part = staging.with_suffix(".tgz")
                    part.write_bytes(data)
                    os.replace(part, tgz)
                try:
                    os.rename(staging, self.root / key)
                except OSError:  # another build unpacked the same tarball meanwhile
                    if not (self.root / key).is_dir():
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        if "binding.gyp" in files:
            raise BuildError("native_addon", f"The package {what} needs a native addon (binding.gyp), which actions cannot load; "
                                             "install scripts are never run. Use a pure-JavaScript package instead.")
        if budget is not None:
            budget.add(what, sum((self.root / key / f).stat().st_size for f in files), len(files))
        return files


class _Bounded(io.RawIOBase):
    """The decompressed tarball, ending the build once more than `cap` bytes came out."""

    def __init__(self, inner: gzip.GzipFile, cap: int, what: str) -> None:
        self.inner, self.left, self.what = inner, cap, what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(min(len(buffer), 1 << 20))
        self.left -= len(data)
        if self.left < 0:
            raise BuildError("package_too_large", f"The tarball of {self.what} unpacks to more than the tree's limit.")
        buffer[:len(data)] = data
        return len(data)


def _extract(data: bytes, target: Path, what: str, limits: NpmLimits) -> list[str]:
    # headers and padding count too: the stream may hold at most the tree's limit plus 1/8
    cap = limits.tree_max_bytes + limits.tree_max_bytes // 8 + 2**20
    written: dict[str, int] = {}
    total = 0
    target.mkdir(parents=True)
    try:
        stream = io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=io.BytesIO(data)), cap, what), 1 << 16)
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                rel = _member_path(member.name)
                if rel is None or not member.isreg():
                    continue  # links, devices, directories and unsafe names are never written
                if member.size > limits.file_max_bytes:
                    raise BuildError("package_too_large", f"The package {what} has a file larger than "
                                                          f"{size_text(limits.file_max_bytes)}: {rel[:200]}")
                if total + member.size - written.get(rel, 0) > limits.tree_max_bytes:
                    raise BuildError("package_too_large", f"The package {what} alone unpacks to more than "
                                                          f"{size_text(limits.tree_max_bytes)} (the limit of an action's npm tree).")
                source = archive.extractfile(member)
                assert source is not None
                path = target.joinpath(*rel.split("/"))
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with open(path, "wb") as out:
                        shutil.copyfileobj(source, out)
                except (NotADirectoryError, IsADirectoryError, FileExistsError):
                    continue  # "a" as a file and "a/b" in one tarball: the later one is dropped
                total += member.size - written.get(rel, 0)
                written[rel] = member.size
                if len(written) > limits.tree_max_files:
                    raise BuildError("package_too_large", f"The package {what} alone holds more than "
                                                          f"{limits.tree_max_files} files (the limit of an action's npm tree).")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise BuildError("invalid_package", f"The tarball of {what} cannot be unpacked: {type(exc).__name__}.") from None
    return sorted(written)


def _member_path(name: str) -> str | None:
    """The path inside the package (npm's tarballs put everything under one top directory,
    usually `package/`), or None for a name that cannot be written or asked for safely."""
    if "\\" in name or "\0" in name or name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if len(parts) < 2 or ".." in parts:
        return None
    return "/".join(parts[1:])
