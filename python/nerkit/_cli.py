"""The ``nerkit`` command installed with the wheel: the same command line as the Rust binary."""
import sys

import nerkit  # noqa: F401  (points ORT_DYLIB_PATH at the onnxruntime wheel's library)
from nerkit._native import cli_main


def main() -> None:
    sys.exit(cli_main(["nerkit", *sys.argv[1:]]))
