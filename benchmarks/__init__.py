"""Benchmarks of Deadline Session Watch: ``python -m benchmarks.run`` (``make bench``).

Every benchmark runs against local stand-ins only: the project's Deadline Cloud stand-in
(``local.deadline_farm``) and moto's server, both on 127.0.0.1. Nothing reaches AWS.

Modules (each also runs alone, ``python -m benchmarks.<module>``, and prints its figures as JSON):

* ``cold_start``      importing boto3 and the handler vs ``import boto3`` alone, and a fresh process's first event vs the
                      minimal baseline handler's (median of fresh processes), plus the observability
                      variants (X-Ray SDK, auto-patching) measured side by side;
* ``warm_cost``       warm per-event cost of the handler vs the baseline handler, same stand-ins, same run;
                      microseconds of the function's own CPU per event (normalise + render + log);
* ``batch_cost``      a batch of 100: round trips on its critical path (counted from the calls), peak memory
                      and CPU per event against the baseline handler;
* ``calls_at_scale``  every AWS call of the default path for failing tasks over 100 jobs against the floor
                      (one conditional write per record, two Batch* reads per 100 events, one publish per
                      digest window), calls per digest window;
* ``calls_per_event`` AWS requests per event (terminal task event, duplicate delivery), every call listed;
* ``burst``           task events (20 % duplicates, shuffled, 5 % of Deadline calls throttled)
                      played through the handler in worker processes: nothing lost, one notification per
                      terminal action, events/s, peak RSS;
* ``batch_burst``     failing tasks of one job and of 100 jobs (20 % duplicates, 5 % of Deadline calls
                      throttled, 1 % of Batch* items failing) through the per-event path and the SQS batch path
                      in ``each`` and ``digest`` modes, side by side: Deadline calls, SNS messages, DynamoDB
                      requests, wall time, peak RSS, nothing lost, the issue's targets (``make bench`` runs
                      ``MAKE_BENCH_TASKS``; ``python -m benchmarks.run --batch-tasks 10000`` the issue's size);
* ``asset``           the zipped function asset's size and the ``python -X importtime`` breakdown.

``run`` runs them all and rewrites ``docs/benchmarks.md``. The shared machinery (moto's server as a child
process, the Lambda-like interpreter setup, the function worker processes) is in ``common`` and
``worker``; the minimal baseline handler the issue compares against is ``baseline_handler``.
"""
