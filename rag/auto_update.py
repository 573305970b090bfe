"""Keep the index following the corpus by itself: watch the folder, and fetch the sources on a schedule.

Why: in a newsroom, articles land in the corpus folder from many places (an editor's save, a
sync from the CMS, `rag fetch`); nobody should have to remember to update the index. Watch
mode (`python app.py --watch`, `rag index --watch`) waits until the folder has been quiet for
`RAG_WATCH_QUIET_SECONDS` (edits and copies come in bursts; watchfiles groups them), then runs
the normal incremental build. Builds go through one `IndexUpdater`, so two never run at once;
changes made during a build start another one after it. Chat users keep answering from the
live generation meanwhile. With `RAG_FETCH_EVERY` set, the app also fetches the sources of
`sources.yaml` on that schedule and updates the index when anything new came in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rag.config import Settings
from rag.corpus import SUFFIXES
from rag.indexer import IndexUpdater, UpdateJob

log = logging.getLogger(__name__)

RETRY_AT_MOST = 600.0  # seconds between tries of a watch update that keeps failing


class CorpusChanges:
    """The watchfiles filter for a corpus folder: files the corpus scan reads (by suffix; any
    deletion, a folder's included), folders (one moved in whole is reported as the folder alone,
    not its files), nothing hidden (`.fetch/` state, `.upload-*` staging files), no editor swap files."""

    def __init__(self, root: Path):
        from watchfiles import Change, DefaultFilter

        self.root = root  # resolved: watchfiles reports paths under it
        self.default = DefaultFilter()
        self.deleted = Change.deleted

    def __call__(self, change, path: str) -> bool:
        inside = Path(path).parts[len(self.root.parts):]
        read = change == self.deleted or Path(path).suffix.lower() in SUFFIXES or Path(path).is_dir()
        return read and self.default(change, path) and not any(part.startswith(".") for part in inside)


def watch_corpus(settings: Settings, updater: IndexUpdater, stop: threading.Event,
                 on_update: Callable[[UpdateJob], None] | None = None) -> None:
    """Update the index each time the corpus folder settles after a change, until `stop` is set.
    An update that failed (another process held the index: a cron `rag index`, a `rag delete`) is
    tried again after the quiet period, then twice as long each time up to `RETRY_AT_MOST`
    seconds, without waiting for another change.

    Args:
        settings: the corpus folder and the quiet period (`watch_quiet_seconds`).
        updater: runs the builds, one at a time (shared with the page and the API).
        stop: set it to end the watch (within about a second).
        on_update: called with each finished update (the CLI prints it).

    Example::

        stop = threading.Event()
        threading.Thread(target=watch_corpus, args=(settings, updater, stop), daemon=True).start()
    """
    from watchfiles import watch

    quiet_ms = int(settings.watch_quiet_seconds * 1000)
    log.info("watching %s for changes (update after %.1f s of quiet)", settings.corpus_dir, settings.watch_quiet_seconds)
    root = settings.corpus_dir.resolve()
    failures, retry_at = 0, None
    for changes in watch(root, watch_filter=CorpusChanges(root), step=quiet_ms, debounce=max(10 * quiet_ms, 10_000),
                         stop_event=stop, rust_timeout=1000, yield_on_timeout=True, raise_interrupt=False):
        if changes:
            log.info("%d change(s) in %s; updating the index", len(changes), settings.corpus_dir)
        elif retry_at is None or time.monotonic() < retry_at:
            continue  # a second without changes
        job = updater.run("watch")
        _report(job, on_update)
        failures = failures + 1 if job.state == "failed" else 0
        wait = min(settings.watch_quiet_seconds * 2 ** (failures - 1), RETRY_AT_MOST)
        retry_at = time.monotonic() + wait if failures else None
        if failures:
            log.info("watch: the index will be updated again in %.0f s", wait)


def fetch_on_schedule(settings: Settings, updater: IndexUpdater, stop: threading.Event,
                      on_update: Callable[[UpdateJob], None] | None = None) -> None:
    """Fetch the sources now and then every `settings.fetch_every` seconds until `stop` is set;
    update the index when new articles came in, or the last update failed (another process held
    the index: its articles would wait for the next new one). A failed round is logged and the
    next one runs."""
    from rag.fetch import fetch_sources

    behind = False
    while not stop.is_set():
        try:
            report = fetch_sources(settings)
            log.info("scheduled fetch: %s", report.summary())
            if (report.saved or behind) and "watch" not in updater.automatic:  # watching, the watcher updates for the saved files
                job = updater.run("fetch", note=report.summary())
                behind = job.state != "done"
                _report(job, on_update)
        except Exception as error:  # a broken sources.yaml must not end the schedule: fixed, it works next round
            log.error("scheduled fetch failed: %s", error)
        stop.wait(settings.fetch_every)


def start_in_background(settings: Settings, updater: IndexUpdater, watch: bool) -> threading.Event:
    """Start watch mode (if `watch`) and the fetch schedule (if `settings.fetch_every`) in
    daemon threads; set the returned event to stop them."""
    stop = threading.Event()
    updater.automatic |= ({"watch"} if watch else set()) | ({"fetch"} if settings.fetch_every else set())  # the page shows them
    if watch:
        threading.Thread(target=watch_corpus, args=(settings, updater, stop), name="watch-corpus", daemon=True).start()
    if settings.fetch_every:
        threading.Thread(target=fetch_on_schedule, args=(settings, updater, stop), name="fetch-schedule", daemon=True).start()
    return stop


def _report(job: UpdateJob, on_update: Callable[[UpdateJob], None] | None) -> None:
    if job.state == "failed":
        log.error("automatic index update failed: %s", job.error)
    else:
        log.info("automatic index update: %s", job.summary)
    if on_update:
        on_update(job)
