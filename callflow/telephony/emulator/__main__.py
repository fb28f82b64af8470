"""`python -m callflow.telephony.emulator --port N --write instance/emulator.json`

Serves the emulator on 127.0.0.1 until interrupted, after writing its base URL and
credentials where the service reads them.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from .server import start_emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m callflow.telephony.emulator", description="Serve the Twilio emulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--write", metavar="PATH", help="write api_base_url and credentials here")
    parser.add_argument("--account-sid", help="account SID (default: a new random one)")
    parser.add_argument("--auth-token", help="auth token (default: a new random one)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="real seconds per emulated second"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    emulator = start_emulator(
        args.port,
        quiet=False,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        time_scale=args.time_scale,
    )
    if args.write:
        emulator.write_instance_file(args.write)
    print(f"Twilio emulator on {emulator.base_url} (account {emulator.account_sid})", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
