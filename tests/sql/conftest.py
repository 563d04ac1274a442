import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "emulator")]

import truth  # noqa: E402


def pytest_terminal_summary(terminalreporter) -> None:
    if truth.TIMINGS:
        terminalreporter.write_line(
            "fleet SQL timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in truth.TIMINGS.items()))
