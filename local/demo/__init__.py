"""``make demo`` / ``python -m local.demo``: the whole system running locally on a simulated render farm.

It synthesises the stack if needed (the demo's context: a 10-second digest window, and the mode asked
for), starts moto's server and the Deadline Cloud stand-in on 127.0.0.1, deploys the synthesised template
into moto's CloudFormation (publishing the function asset as the CDK CLI does), plays a scenario on the
simulated farm, delivers each event the farm emits through the *deployed* EventBridge rules: to the event
queue, which Lambda's SQS event source (emulated: ``local/moto_stack/sqs_source.py``) reads in batches for
the real handler (run in this process with the deployed function's environment), or straight to the
function with ``--delivery direct``; waits for the digest flushes the function schedules on its digest
queue; runs ``WaitForSessionAction`` through moto's Step Functions interpreter, then prints the
notifications (read from an SQS queue subscribed to the topic; e-mail text for the failures and digests),
the history table, the state machine results, the checks and a one-line verdict. Exit status: 0 when every check
passed, 1 when one failed, 2 when the demo could not run, 130 when interrupted. Both servers are stopped
on every one of those exits.

Options::

    --scenario NAME   the scenario to play: a name from local/scenarios/ or a file (default render-12-frames;
                      throttled-deadline throttles the Deadline Cloud stand-in; job-fails-entirely: 1,000
                      tasks fail on 10 workers; env-enter-fails-one-worker: one worker's environment fails)
    --mode MODE       each | digest: synthesise with -c sessionWatch:notifyMode=MODE (default: the stack's
                      default, digest)
    --delivery HOW    queue | direct: synthesise with -c sessionWatch:eventDelivery=HOW (default: queue)
    --keep-running    after the run, keep moto and the stand-in up and print how to reach them (Ctrl-C stops)
    --verbose         print names, ids, links and details in full (default: short names, the essentials)
    --json            print the result as one JSON document on stdout (progress goes to stderr)
    --synth           run ``python app.py`` into --cdk-out first (also when --cdk-out has no assembly, and
                      with --mode or --delivery); always with -c sessionWatch:digestWindowSeconds=10
    --cdk-out DIR     the cloud assembly to deploy (default ./cdk.out)
    --workdir DIR     where the function log and moto's log go (default: a temporary directory, removed at exit)

Scenarios are data (``local/scenarios/*.json``); their format is described in ``local/demo/scenario.py``
and their expectations in ``local/demo/checks.py``. The local AWS machinery is ``local/moto_stack``.
"""
