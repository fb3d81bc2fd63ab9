"""Read a child process's stderr on a thread, so a test can wait for a log line while the process runs."""

import threading
import time


class StderrWatcher:
    def __init__(self, proc) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def seen(self, needle: str) -> bool:
        return needle in self.text

    def stop(self, timeout: float = 20.0) -> str:
        """Terminate the process, wait for it and for the end of its stderr; returns all of stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=timeout)
        self._thread.join(timeout=timeout)
        return self.text


def wait_until(pred, timeout: float, step=None) -> bool:
    """Call ``step()`` (e.g. publish + spin) until ``pred()`` holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        if step is not None:
            step()
        else:
            time.sleep(0.05)
    return pred()
