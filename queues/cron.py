"""The periodic jobs, run by `python -m queues.scheduler` (RQ's cron scheduler; started by
`make run`)."""

from rq import cron

from dashboards.jobs import refresh_handling_times
from queues.jobs import sweep_queues
from queues.leases import expire_leases_job
from regulation.jobs import release_due_callbacks_job

cron.register(sweep_queues, queue_name="sas", interval=5)
# Leases run out after LEASE_SECONDS (30 s by default): checked every 2 s, a caller is
# back in their place at most 2 s after their agent's lease ended.
cron.register(expire_leases_job, queue_name="sas", interval=2)
cron.register(release_due_callbacks_job, queue_name="sas", interval=5)
# Handling-time rows that fell behind their timeline (a refresh that failed) are repaired.
cron.register(refresh_handling_times, queue_name="sas", interval=30)
