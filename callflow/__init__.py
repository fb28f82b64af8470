"""The call itself: the `Call` record, its states and legal moves, its event timeline,
the caller's number and history, and the telephony gateway (Twilio REST client and the
built-in emulator)."""
