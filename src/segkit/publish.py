"""Publishing runs into the output folder so that readers never see a half-written report.

Layout of ``<out>/`` (``segkit run``)::

    index.html, index.json         every run with its status (rewritten atomically)
    <name>/                        the files of one complete run: a real folder, so ``<out>`` can be
                                   copied (``cp -r``), zipped or synced to a web server or a share as is
    .staging/<name>-<id>/          a run being written (removed or promoted, never read)
    .previous/<name>-<id>/         a replaced run folder, removed right after the swap
    _failed/<name>/                the executed notebooks of the last failed attempt
    .segkit.lock                   held (flock) by the run that publishes into this folder

A run is written into ``.staging`` and promoted only when complete. On Linux the promotion is one
``renameat2(RENAME_EXCHANGE)``, which swaps the new folder and the published one atomically; elsewhere
it is two renames (the published folder moves to ``.previous``, then the new one into place), and a
crash between them is repaired by the next run, which moves the previous folder back. Either way a
failed or interrupted run never damages the previously published report. Leftovers of a crash are
removed by the next run. Folders published as symlinks into ``.published/`` (segkit 0.1) are
replaced by real folders the next time their run is published.

``segkit segment`` publishes into a folder of files (:meth:`OutputFolder.publish_files`): the same
lock and staging, then each file is renamed into place, ``run.json`` (the record of a complete run)
last.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import html
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import formats
from .atomic import atomic_write
from .i18n import DEFAULT, LANGUAGES, N_, _, using
from .errors import ConfigError, LockedError
from .reproducible import timestamp

__all__ = ["OutputFolder", "write_index"]

_SAFE_NAME = re.compile(r"^[a-z0-9_-]+$")
_LOCK = ".segkit.lock"
_STAGING = ".staging"
_PREVIOUS = ".previous"
_LEGACY = ".published"  # segkit 0.1 kept runs here behind symlinks
_FAILED = "_failed"


class OutputFolder:
    """The output folder of ``segkit run``/``segkit segment`` and its publishing protocol."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def locked(self, *, repair: bool = True) -> Iterator["OutputFolder"]:
        """Hold the folder's lock; another holder makes this raise :class:`LockedError` at once.

        The lock is an ``flock`` on ``.segkit.lock``: the kernel releases it when the holder exits
        for any reason (even SIGKILL), so a stale lock cannot block later runs. With ``repair``
        (``segkit run``'s folders) :meth:`clean_leftovers` runs first.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the output folder ({exc.strerror})", where=str(self.root),
                              fix="choose a folder you can write to with --out or `out:`") from exc
        path = self.root / _LOCK
        fh = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise LockedError(f"another segkit run is publishing into this folder ({holder})", where=str(self.root),
                              fix="wait for it to finish, or use a different --out folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {timestamp()}")
        fh.flush()
        try:
            if repair:  # not in a folder of run files (segment), which may hold the user's own folders
                self.clean_leftovers()
            yield self
        finally:
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def clean_leftovers(self) -> None:
        """Repair what interrupted runs left: staging folders, a run folder caught between two renames,
        and (segkit 0.1 layout) published folders no symlink points to."""
        shutil.rmtree(self.root / _STAGING, ignore_errors=True)
        previous = self.root / _PREVIOUS
        if previous.is_dir():
            for d in sorted(previous.iterdir()):
                live = self.root / d.name.rsplit("-", 1)[0]
                if not live.exists() and not live.is_symlink():
                    os.replace(d, live)  # the swap was interrupted: the previous report comes back
                else:
                    shutil.rmtree(d, ignore_errors=True)
            _remove_if_empty(previous)
        legacy = self.root / _LEGACY
        if legacy.is_dir():
            live_links = {os.path.realpath(p) for p in self.root.iterdir() if p.is_symlink()}
            for d in legacy.iterdir():
                if os.path.realpath(d) not in live_links:
                    shutil.rmtree(d, ignore_errors=True)
            _remove_if_empty(legacy)

    # ------------------------------------------------------------------ runs
    def _inside(self, name: str) -> Path:
        """``<out>/<name>``, refusing names that could point anywhere else."""
        if not _SAFE_NAME.fullmatch(name or ""):
            raise ConfigError(f"run name {name!r} would write outside the output folder", where=str(self.root),
                              fix="use only lower-case letters, digits, '-' and '_'")
        return self.root / name

    def staging(self, name: str) -> Path:
        """A fresh, empty folder for writing run ``name``."""
        self._inside(name)
        path = self.root / _STAGING / f"{name}-{secrets.token_hex(4)}"
        path.mkdir(parents=True)
        return path

    def publish(self, name: str, staged: Path) -> Path:
        """Promote a complete staging folder: ``<out>/<name>`` is now that folder, atomically."""
        final = self._inside(name)
        aside = None
        if final.is_symlink():  # segkit 0.1 layout: keep its target until the new folder is in place
            target = os.path.realpath(final)
            if os.path.isdir(target):
                aside = self._aside(name)
                os.replace(target, aside)
            final.unlink()
        elif final.exists():
            if _exchange(staged, final):  # one atomic step; ``staged`` now holds the old report
                shutil.rmtree(staged, ignore_errors=True)
                _remove_if_empty(staged.parent)
                return final
            aside = self._aside(name)
            os.replace(final, aside)
        os.replace(staged, final)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
            _remove_if_empty(aside.parent)
        _remove_if_empty(staged.parent)
        _remove_if_empty(self.root / _LEGACY)
        return final

    def publish_files(self, staged: Path) -> list[Path]:
        """Move each file of ``staged`` into ``<out>/`` itself (``run.json`` last); returns their paths.

        Used by ``segkit segment``, whose ``--out`` is a folder of run files that may hold other files
        too: each file is replaced atomically, and ``run.json`` appears only when the rest is in place.
        """
        moved = []
        for path in sorted(staged.iterdir(), key=lambda p: (p.name == "run.json", p.name)):
            os.replace(path, self.root / path.name)
            moved.append(self.root / path.name)
        self.discard(staged)
        return moved

    def _aside(self, name: str) -> Path:
        previous = self.root / _PREVIOUS
        previous.mkdir(exist_ok=True)
        return previous / f"{name}-{secrets.token_hex(4)}"

    def keep_failed(self, name: str, staged: Path) -> Path:
        """Keep a failed attempt's executed notebooks in ``_failed/<name>/`` (replacing an older one)."""
        self._inside(name)
        failed_root = self.root / _FAILED
        failed_root.mkdir(exist_ok=True)
        target = failed_root / name
        tmp = failed_root / f".{name}-{secrets.token_hex(4)}"
        os.replace(staged, tmp)
        _remove_if_empty(staged.parent)
        if target.exists():
            old = failed_root / f".{name}-old-{secrets.token_hex(4)}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        return target

    def clear_failed(self, name: str) -> None:
        shutil.rmtree(self.root / _FAILED / name, ignore_errors=True)

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)
        _remove_if_empty(staged.parent)

    # ------------------------------------------------------------------ index
    def read_index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) and isinstance(data.get("runs"), dict) else {"runs": {}}
        except (OSError, ValueError):
            return {"runs": {}}

    def update_index(self, entries: dict[str, dict[str, Any]]) -> None:
        index = self.read_index()
        for name, entry in entries.items():
            previous = index["runs"].get(name, {})
            if entry.get("status") == "unchanged":  # skipped by --if-changed: its report stays published
                index["runs"][name] = {**entry, "status": "published"}
                continue
            entry = {k: v for k, v in entry.items() if k not in ("unchanged_since", "checked")}
            if entry.get("status") != "published" and previous.get("status") == "published":
                entry = {**entry, "last_published": {k: previous.get(k) for k in
                                                     ("generated", "recommended", "data_last_date", "sha256")}}
            elif entry.get("status") != "published" and previous.get("last_published"):
                entry = {**entry, "last_published": previous["last_published"]}
            index["runs"][name] = entry
        # forget runs whose folder is gone and that never failed
        index["runs"] = {k: v for k, v in sorted(index["runs"].items())
                         if (self.root / k).exists() or v.get("status") != "published"}
        atomic_write(self.root / "index.json", json.dumps(index, indent=2, ensure_ascii=False) + "\n")
        write_index(self.root, index)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it (musl before 1.2.3)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    # a file system without exchange support answers EINVAL: the caller falls back to two renames
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


_STATUS_LABEL = {"published": N_("Published"), "failed": N_("Failed"), "bad-input": N_("Bad input")}


def _page_language(index: dict[str, Any]) -> str:
    """The index page's language: the one every run shares, else English (a row speaks its run's)."""
    languages = {run.get("language") or DEFAULT for run in index["runs"].values()}
    return languages.pop() if len(languages) == 1 else DEFAULT


def _index_row(root: Path, name: str, run: dict[str, Any]) -> str:
    e = html.escape
    status = run.get("status", "unknown")
    with using(run.get("language") if run.get("language") in LANGUAGES else DEFAULT):
        links = ""
        if (root / name / "report.html").exists():
            report = _("Report")  # outside the f-string, where the catalogue extractor finds it
            links = (f'<a href="{e(name)}/report.html">{e(report)}</a>'
                     + "".join(f' · <a href="{e(name)}/{e(nb)}.html">{e(nb[3:].replace("_", " "))}</a>'
                               for nb in run.get("notebooks", [])))
        detail = ""
        if status != "published":
            detail = f'<div class="err">{e(run.get("message", ""))}</div>'
            if run.get("last_published"):
                lp = run["last_published"]
                detail += ('<div class="muted">' + e(_("Still showing the report of {when}.").format(
                    when=str(lp.get("generated") or ""))) + "</div>")
        elif run.get("unchanged_since"):
            detail = ('<div class="muted">' + e(_("Unchanged since {since} (checked {checked}): same data, parameters "
                                                  "and segkit version.").format(
                since=str(run["unchanged_since"]), checked=str(run.get("checked") or ""))) + "</div>")
        label = _(_STATUS_LABEL[status]) if status in _STATUS_LABEL else status
        recommended = run.get("recommended_label") or run.get("recommended") or "–"
        return (f'<tr class="{e(status)}"><td><strong>{e(name)}</strong><div class="muted">{e(run.get("title") or "")}'
                f'</div></td><td><span class="badge {e(status)}">{e(label)}</span>{detail}</td>'
                f'<td>{e(recommended)}</td>'
                f'<td>{e(formats.date(run["data_last_date"]) if run.get("data_last_date") else "–")}</td>'
                f'<td><code>{e((run.get("sha256") or "")[:12])}</code></td>'
                f'<td>{e(run.get("generated") or "–")}</td><td>{links}</td></tr>')


def write_index(root: Path, index: dict[str, Any]) -> Path:
    """``<out>/index.html``: every run, its status, recommendation, data date and links (all escaped)."""
    e = html.escape
    rows = [_index_row(root, name, run) for name, run in index["runs"].items()]
    language = _page_language(index)
    with using(language):
        none = _("No runs yet.")
        body = "\n".join(rows) or f'<tr><td colspan="7">{e(none)}</td></tr>'
        heads = "".join(f"<th>{e(h)}</th>" for h in (_("Run"), _("Status"), _("Recommended"), _("Data up to"),
                                                      _("Data hash"), _("Generated"), _("Open")))
        title, heading = _("segkit reports"), _("Customer segmentation reports")
        intro = _("Generated by segkit. Each report compares percentile tiers, RFM and k-means on the same customers "
                  "and recommends one.")
    page = f"""<!DOCTYPE html>
<html lang="{e(language)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#1f2933;padding:0 1rem}}
h1{{font-size:1.6rem;margin-bottom:.2rem}} .muted{{color:#616e7c;font-size:.85rem}}
table{{border-collapse:collapse;width:100%;margin-top:1rem}} th,td{{text-align:left;padding:.55rem .6rem;border-bottom:1px solid #e4e7eb;vertical-align:top;overflow-wrap:anywhere}}
th{{background:#f5f7fa;font-size:.85rem;text-transform:uppercase;letter-spacing:.03em;color:#52606d}}
.badge{{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.8rem;font-weight:600}}
.badge.published{{background:#e3f9e5;color:#207227}} .badge.failed,.badge.bad-input{{background:#ffe3e3;color:#a61b1b}}
.err{{color:#a61b1b;font-size:.85rem;margin-top:.3rem;white-space:pre-wrap}} a{{color:#0b69a3}} code{{font-size:.8rem}}
</style></head><body>
<h1>{e(heading)}</h1>
<div class="muted">{e(intro)}</div>
<table><thead><tr>{heads}</tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
    return atomic_write(root / "index.html", page)
