"""``otpgate serve``'s log format and the metrics directory shared by its workers."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from otpgate import logs
from otpgate.config import Settings

__all__ = ["add_arguments", "prepare"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or one JSON object per line (time, level, event, request_id, "
        "user, client) for log collectors (text)",
    )


def prepare(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Configure logging here and prepare the metrics directory (before any worker
    starts); returns the logging configuration for uvicorn to apply in each worker."""
    config = logs.configure(args.log_format, access_log=bool(args.access_log))
    if settings.metrics_token:
        _metrics_directory()
    return config


def _metrics_directory() -> Path:
    # prometheus_client's multiprocess mode: every worker writes its counters into files
    # here, and a scrape adds them up. Files left by an earlier run would be added too,
    # so the directory is emptied first; a directory of our own is removed at exit.
    given = os.environ.get(MULTIPROC_ENV, "").strip()
    if given:
        directory = Path(given)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="otpgate-metrics-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[MULTIPROC_ENV] = str(directory)
    return directory
