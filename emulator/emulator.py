#!/usr/bin/env python3
"""Local AWS API emulator for the project's tests: moto's server plus our
extensions.

    python emulator/emulator.py [--host 127.0.0.1] [--port 0]
                                      [--exit-on-stdin-eof] [--verbose]

Once listening it prints exactly one line to stdout,
``EMULATOR_READY port=<port>``, and flushes; everything else goes to stderr.

Why moto alone is not enough (each module's docstring has the details):

* ``emu_ssm``: moto has no SSM managed-node fleet, so no
  ``DescribeInstanceInformation`` with filters/pagination, no tags on
  ``ManagedInstance`` resources, and no resource data sync operations.
* ``emu_ec2``: moto's ``CreateTags`` accepts instance ids that do not exist,
  where AWS rejects the whole call with ``InvalidInstanceID.NotFound``; and
  moto's run_instances is too slow to seed 10,000 instances.
* ``emu_glue``: moto numbers table versions from "1" and ignores
  ``UpdateTable``'s ``VersionId`` (AWS: from "0", optimistic locking with
  ``ConcurrentModificationException``); ``GetPartitions`` does not paginate;
  the batch partition calls lack AWS's limits and some per-entry errors; and
  per-entry faults for the batch partition calls.
* ``emu_quicksight``: moto lacks most of QuickSight's data source / dataset
  API (no DescribeDataSet, ListDataSets, permissions; wrong status codes,
  timestamps and duplicate handling for the rest); we implement the data
  source and dataset CRUD, permissions and listing as AWS answers them.
* ``emu_s3``: moto's ListObjectVersions is too slow for 100,000 versions and
  restarts at a lone KeyMarker; suspended buckets lose old versions;
  DeleteObjects lacks the 1000-key limit and Quiet mode; bulk seeding and
  per-key DeleteObjects faults.
* ``emu_config``: moto's ``PutConfigRule`` succeeds without a configuration
  recorder; AWS refuses it with ``NoAvailableConfigurationRecorderException``.
* ``emu_lambda``: moto runs functions only in Docker and its EventBridge rules cannot target
  Lambda; every invocation (Invoke API, S3 notifications, EventBridge, custom resources) goes to an
  external Lambda runner registered at ``/_emulator/lambda-runner``, and is logged.
* ``emu_cloudformation`` (with ``emu_cfn_engine``, ``emu_cfn_template``, ``emu_cfn_resources``,
  ``emu_cfn_stacksets``): moto's CloudFormation engine cannot run our templates (custom resources
  Create-only, failures ignored, types skipped, updates blind, StackSets broken); ours runs stacks,
  change sets, custom resources and service-managed StackSets as AWS does.
* ``emu_crawler``: moto's ``StartCrawler`` reads nothing; ours catalogs the crawler's S3 targets
  as Glue does and puts its ``Glue Crawler State Change`` events on EventBridge.
* ``emu_events``: scheduled rules fired on demand (``/_emulator/events/fire-schedule``).
* ``emu_iam``: AWS managed policies (``arn:aws:iam::aws:policy/...``) exist on first use.
* ``emu_athena_query``: moto runs no query; ours runs Athena's SQL in DuckDB over the Glue
  catalog's tables and the S3 objects under them, with Athena's states, results and errors.
* ``emu_athena``, ``emu_cloudtrail``: calls CloudFormation's resources need that moto lacks
  (UpdateWorkGroup, DeleteNamedQuery; CloudTrail Lake event data stores).
* ``emu_control``: call counting per (region, service, operation), fault
  injection in each protocol's error format, and the ``/_emulator/`` control
  endpoints (seeding nodes, faults, counts, reset).

``--exit-on-stdin-eof`` makes the process exit as soon as its stdin closes,
so a test harness that holds the pipe keeps the emulator alive exactly as long
as the harness itself lives.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _import_moto() -> None:
    try:
        import moto  # noqa: F401
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: F401
    except ImportError as e:
        print(f"moto is not installed in this Python: run `make setup` ({e})", file=sys.stderr)
        sys.exit(3)


def build_app() -> "object":
    """moto's dispatcher app with our extensions installed, wrapped in our
    middleware.  Returns the middleware (a WSGI app)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    import emu_athena
    import emu_athena_query
    import emu_cfn_stacksets
    import emu_cloudformation
    import emu_cloudtrail
    import emu_config
    import emu_control
    import emu_crawler
    import emu_ec2
    import emu_glue
    import emu_iam
    import emu_lambda
    import emu_quicksight
    import emu_s3
    import emu_ssm

    emu_ssm.install()
    emu_config.install()
    emu_ec2.install()
    emu_glue.install()
    emu_crawler.install()
    emu_quicksight.install()
    emu_s3.install()
    emu_iam.install()
    emu_athena.install()
    emu_athena_query.install()
    emu_cloudtrail.install()
    emu_lambda.install()
    emu_cloudformation.install()
    emu_cfn_stacksets.install()
    return emu_control.EmulatorMiddleware(DomainDispatcherApplication(create_backend_app))


def _watch_stdin() -> None:
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except Exception:
        pass
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    _import_moto()
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    class Handler(MotoRequestHandler):
        def log_request(self, code: object = "-", size: object = "-") -> None:
            if args.verbose:
                super().log_request(code, size)

    app = build_app()
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    port = server.server_address[1]
    # moto builds some self-referencing URLs from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(port))
    # CloudFormation's providers call AWS, and custom resources answer, through this endpoint.
    import emu_cfn_engine

    self_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    emu_cfn_engine.ENDPOINT.set(f"http://{self_host}:{port}")

    if args.exit_on_stdin_eof:
        threading.Thread(target=_watch_stdin, name="stdin-eof", daemon=True).start()

    sys.stdout.write(f"EMULATOR_READY port={port}\n")
    sys.stdout.flush()
    print(f"emulator listening on http://{args.host}:{port}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
