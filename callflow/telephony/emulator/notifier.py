"""The notifier: one thread that sends, in order, the webhooks nobody waits for.

Conference status callbacks and message status callbacks are queued on the registry's
`outbox` by whichever thread caused them (often a REST request, which must answer at once)
and sent here, signed like every other webhook. What became of each is kept in
`registry.async_webhooks` (most recent `HISTORY_LIMIT`).
"""

from __future__ import annotations

import logging
import threading

from .models import WebhookRecord
from .registry import HISTORY_LIMIT, Registry
from .webhooks import WebhookError, WebhookSession

log = logging.getLogger("callflow.telephony.emulator")


class Notifier:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.thread = threading.Thread(target=self._run, name="emulator-notifier", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.registry.outbox.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        with WebhookSession(self.registry) as session:
            while True:
                item = self.registry.outbox.get()
                if item is None:
                    return
                url, method, params, purpose = item
                status: int | None = None
                code: int | None = None
                try:
                    status = session.request(url, method, params, purpose=purpose).status
                except WebhookError as error:
                    code = error.code
                except Exception:
                    log.exception("emulator: %s webhook to %s failed", purpose, url)
                    code = 11200
                record = WebhookRecord(
                    self.registry.now(), purpose, method, url, params, status, code
                )
                with self.registry.lock:
                    self.registry.async_webhooks.append(record)
                    if len(self.registry.async_webhooks) > HISTORY_LIMIT:
                        del self.registry.async_webhooks[0]
                    self.registry.touch()
