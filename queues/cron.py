"""The periodic jobs, for `rq cron queues/cron.py` (started by `make run`)."""

from rq import cron

from queues.jobs import sweep_queues

cron.register(sweep_queues, queue_name="sas", interval=5)
