"""The traffic simulator: callers and agents driving the running service through its public
interfaces only (the Twilio emulator's simulated phones, and the staff API)."""
