# Copyright 2026, the ameide-secrets authors. Licensed under the Apache License, Version 2.0.
#
# The Python half of lab/engines/langhost (our pulumi-language-python): runs one Pulumi program.
# The Go host embeds this file and starts it as `<virtualenv>/bin/python -c <this file> [flags] PROGRAM
# [ARGS...]`, with the stack's config in PULUMI_CONFIG (a JSON object of fully qualified keys to
# strings) and the secret keys in PULUMI_CONFIG_SECRET_KEYS (a JSON list).
#
# It uses only the Pulumi Python SDK's public runtime API: Settings / configure / set_all_config /
# run_in_stack; the program itself is run with runpy.run_path, so a directory runs its __main__.py
# with the directory first on sys.path (how __main__.py imports its packages here).
import argparse
import asyncio
import logging
import os
import runpy
import sys
import traceback

# Exit status that tells the host "the error was already reported to the engine" (it then answers
# Bail, and the CLI prints no second message). Same value as the upstream host.
BAIL = 32

try:
    import pulumi
    import pulumi.runtime
except ImportError:
    # Printed to stderr, which the CLI shows as the program's output.
    print(traceback.format_exc(), file=sys.stderr)
    print(
        "The Pulumi SDK is not installed in this Python environment. Create the project's "
        "virtualenv and pip install -r requirements.txt into it (or run `pulumi install`).",
        file=sys.stderr,
    )
    sys.exit(1)


def main() -> int:
    ap = argparse.ArgumentParser(prog="pulumi-language-python-exec (ameide)")
    ap.add_argument("--monitor", help="resource monitor gRPC address")
    ap.add_argument("--engine", help="engine gRPC address")
    ap.add_argument("--project")
    ap.add_argument("--root_directory", help="directory of Pulumi.yaml")
    ap.add_argument("--stack")
    ap.add_argument("--pwd", help="working directory for the program")
    ap.add_argument("--dry_run", help="'true' for a preview")
    ap.add_argument("--parallel", type=int, default=0)
    ap.add_argument("--organization")
    ap.add_argument("PROGRAM", help="program file or directory ('.' = __main__.py of --pwd)")
    ap.add_argument("ARGS", nargs=argparse.REMAINDER)
    args = ap.parse_args()  # -c puts "-c" in argv[0]; the rest are ours

    # Config first: the program reads it at import time.
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    pulumi.runtime.configure(
        pulumi.runtime.Settings(
            project=args.project,
            stack=args.stack,
            monitor=args.monitor,
            engine=args.engine,
            parallel=args.parallel,
            dry_run=args.dry_run == "true",
            # The DIY (file://) backend has no organization; the SDK's own default is "organization".
            organization=args.organization or "organization",
            root_directory=args.root_directory,
        )
    )

    if args.pwd:
        os.chdir(args.pwd)
    program = os.path.abspath(args.PROGRAM)
    sys.argv = [program, *args.ARGS]

    # An unobserved failed future at exit makes asyncio log noise that is not the user's problem;
    # errors that matter reach the engine through pulumi.log.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def run_program() -> None:
        runpy.run_path(program, run_name="__main__")

    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(run_program))
        return 0
    except pulumi.RunError as e:
        pulumi.log.error(str(e))
        return BAIL
    except Exception:  # everything the program raises is reported, then we bail
        pulumi.log.error("Program failed with an unhandled exception:\n" + traceback.format_exc())
        return BAIL
    finally:
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()


sys.exit(main())
