"""Prioritised waiting: the Redis queues (`store`), their keys (`keys`), their placement from
the database record (`placement`, `reconcile`) and the jobs that watch them (`jobs`)."""
