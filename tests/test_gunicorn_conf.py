"""gunicorn's settings module, read as gunicorn reads it."""

from __future__ import annotations

import gc
from typing import Any

from gunicorn.config import Config

import runtime.gunicorn_conf as settings_module


def _gunicorn_config() -> Config:
    """What `gunicorn -c python:runtime.gunicorn_conf` keeps of the module: its settings."""
    config = Config()
    for name, value in vars(settings_module).items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_a_worker_freezes_its_startup_objects_once_the_app_is_loaded() -> None:
    config = _gunicorn_config()
    worker: Any = object()
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        config.post_worker_init(worker)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
