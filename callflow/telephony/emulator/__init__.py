"""The built-in Twilio emulator: a separate program that speaks Twilio's HTTP contract.

It serves the parts of Twilio's 2010-04-01 REST API the service uses (`rest/`), runs calls
as Twilio does (`engine.py` and the verb modules), posts signed webhooks (`webhooks.py`), and
offers its own control API for simulated phones and softphones (`control.py`). It imports
nothing of the service: the service reaches it only over HTTP, through the official `twilio`
client (`callflow.telephony.rest_client`).

In-process: `start_emulator(port=0, time_scale=…)` returns a `RunningEmulator`
(`.base_url`, `.state`, `.stop()`). As a process:
`python -m callflow.telephony.emulator --port N --write instance/emulator.json`.
See `docs/emulator.md`.
"""

from .app import create_emulator_app
from .server import BackgroundServer, RunningEmulator, start_emulator
from .state import EmulatorState

__all__ = [
    "BackgroundServer",
    "EmulatorState",
    "RunningEmulator",
    "create_emulator_app",
    "start_emulator",
]
