"""The service's runtime: settings, clock, database and Redis wiring, process launcher.

Everything here is infrastructure shared by the domain packages (`callflow`, `ivr`,
`queues`, `regulation`, `dashboards`); nothing here knows about calls.
"""
