"""The offline demo: a patient's phone in the browser, driving the built-in Twilio emulator.

Only served when the service runs against the emulator (no `TWILIO_ACCOUNT_SID`): the page
talks to the service, which relays to the emulator's control API on 127.0.0.1.
"""
