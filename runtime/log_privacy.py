"""No caller number in any log line, whoever logs it: the process's log records are masked as
they are made.

The service masks numbers itself where it logs them (`callflow.numbers.mask`); this is the
net under it, for what a library, a traceback or a careless line would print. It replaces
the log record factory (`logging.setLogRecordFactory`), so every logger, handler and
process that creates the app (gunicorn workers, RQ workers, commands) is covered, whatever
its handlers. Phone numbers, international (`+33612345678`) or French national
(`06 12 34 56 78`, `0612345678`), keep their first three and last two characters.

Medical notes are never logged by the service; the database engine is created with
`hide_parameters` so that a failed statement's error does not print the values it carried.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: International numbers (E.164, with or without separators) and French national numbers.
PHONE = re.compile(r"(?<![\w+])(?:\+\d(?:[ .-]?\d){7,14}|0[1-9](?:[ .-]?\d\d){4})(?!\w)")

_installed = False


def mask_numbers(text: str) -> str:
    def hide(found: re.Match[str]) -> str:
        number = found.group(0)
        return number[:3] + "*" * max(0, len(number) - 5) + number[-2:]

    return PHONE.sub(hide, text)


def install() -> None:
    """Mask every log record of this process from now on (once per process)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging to report
            return record
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = mask_numbers(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(masked_record)
    _installed = True
