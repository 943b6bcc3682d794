"""Local tooling: stand-ins and demos that run without an AWS account.

Nothing in this package is shipped with the Lambda function. ``local.deadline_farm`` is an in-memory
AWS Deadline Cloud render farm with an HTTP server that speaks the real Deadline Cloud REST-JSON API
(the subset this project reads), for tests, benchmarks and demos. ``local.moto_stack`` runs moto's server,
deploys the synthesised cloud assembly into it and plays EventBridge, Lambda and Step Functions around the
real handler; ``local.demo`` is ``make demo``, driven by the scenario files in ``local/scenarios/``.
"""
