"""The Flask application factory."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from werkzeug.middleware.proxy_fix import ProxyFix

from runtime.db import db, init_read_only_views, ping_idle_connections
from runtime.fast_json import FastJSONProvider
from runtime.log_privacy import install as install_log_privacy
from runtime.redis_conn import init_redis
from runtime.settings import Settings

log = logging.getLogger("sas")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service. `config` overrides the environment, with the same names."""
    install_log_privacy()
    app = Flask(__name__, instance_path=str(Path(__file__).parent / "instance"))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings = _resolve_credentials(app, Settings.load(config))
    app.extensions["sas_settings"] = settings
    app.config.update(
        SECRET_KEY=settings.secret_key or _instance_secret(app),
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={
            # a failed statement's error must not print the caller's number or a note
            "hide_parameters": True,
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_s,
        },
    )
    # Keys in the order the code writes them (the contract's order), encoded by orjson.
    app.json = FastJSONProvider(app)
    if settings.trusted_proxies:
        # X-Forwarded-* are honoured here and nowhere else.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
            x_port=settings.trusted_proxies,
            x_prefix=settings.trusted_proxies,
        )
    if not settings.twilio_validate_signature:
        log.warning("TWILIO_VALIDATE_SIGNATURE=0: Twilio signatures are NOT checked")

    db.init_app(app)
    init_read_only_views(app)
    with app.app_context():
        ping_idle_connections(db.engine)
    Migrate(app, db, directory=str(Path(__file__).parent / "migrations"))
    init_redis(app, settings)

    from callflow import models as _call_models  # noqa: F401  (tables for migrations)
    from callflow.retention import retention_cli
    from callflow.telephony.demo.views import demo
    from dashboards.health import health
    from dashboards.views import dashboards
    from ivr.connect import connect
    from ivr.views import voice
    from queues.cli import queues_cli
    from regulation import init_app as init_regulation
    from runtime.headers import install as install_headers
    from simulator.cli import sim_cli

    app.register_blueprint(voice)
    app.register_blueprint(health)
    app.register_blueprint(demo)
    app.register_blueprint(dashboards)
    app.register_blueprint(connect)
    app.cli.add_command(queues_cli)
    app.cli.add_command(sim_cli)
    app.cli.add_command(retention_cli)
    init_regulation(app, config)
    install_headers(app, settings)
    return app


def _instance_secret(app: Flask) -> str:
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _resolve_credentials(app: Flask, settings: Settings) -> Settings:
    """With no Twilio account, use the built-in emulator's (instance/emulator.json)."""
    if settings.twilio_account_sid:
        return settings
    path = Path(app.instance_path) / "emulator.json"
    values: dict[str, Any] = {
        "account_sid": "AC" + "0" * 32,
        "auth_token": "emulator-auth-token",
        "api_base_url": settings.twilio_api_base_url,
    }
    if path.exists():
        values.update(json.loads(path.read_text()))
    if settings.twilio_api_base_url != Settings.twilio_api_base_url:
        values["api_base_url"] = settings.twilio_api_base_url  # an explicit setting wins
    return replace(
        settings,
        emulator_mode=True,
        twilio_account_sid=values["account_sid"],
        twilio_auth_token=values["auth_token"],
        twilio_api_base_url=values["api_base_url"],
    )
