"""pybpf._log: loggers that import logging on first use behave as the named logger does."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from pybpf._log import get_logger


def test_messages_reach_the_named_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("pybpf.test_lazy_logger")
    with caplog.at_level(logging.DEBUG, logger="pybpf.test_lazy_logger"):
        log.debug("detail %d", 1)
        log.warning("careful %s", "now")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("pybpf.test_lazy_logger", logging.DEBUG, "detail 1"),
        ("pybpf.test_lazy_logger", logging.WARNING, "careful now")]
    assert log.isEnabledFor(logging.WARNING)


def test_a_level_set_after_the_first_message_still_applies(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("pybpf.test_lazy_logger.level")
    log.info("before")  # the method is now kept on the lazy logger
    with caplog.at_level(logging.INFO, logger="pybpf.test_lazy_logger.level"):
        log.info("after")
    assert [r.getMessage() for r in caplog.records] == ["after"]


def test_debug_without_logging_imported_does_not_import_it_and_warnings_still_show() -> None:
    code = """
        import sys
        from pybpf._log import get_logger
        log = get_logger("pybpf.x")
        log.debug("dropped %s", 1)
        log.info("dropped too")
        assert "logging" not in sys.modules
        log.warning("shown %s", "here")
        assert "logging" in sys.modules
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "shown here"
