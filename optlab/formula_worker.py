"""Bounded workers for symbolic work on user text: a process per task, never the server's own.

``run(text, work, seconds)`` calls ``work(text)`` in a worker process and returns what it returns; the
worker is killed once it has used ``seconds`` of CPU time, and cannot take more than WORKER_MEMORY of
memory. Workers are forked from a small single-threaded server of our own (``_serve``), started once by
exec: a worker holds none of the Streamlit server's sockets or locks, runs at a lower priority than the
server, and is killed with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from optlab.formula_grammar import FormulaError

WAIT_SECONDS = 10.0  # wall-clock backstop: a worker that has not answered by then (an overloaded machine) is stopped
WORKER_MEMORY = 1 << 30  # bytes of memory a worker may take beyond what it starts with
CPU_BACKSTOP = 5  # seconds of CPU after which the kernel stops a worker, behind the parent's own check


class FormulaBusy(FormulaError):
    """The formula could not be compiled right now (every worker busy, or the machine overloaded): not a
    verdict on the formula, so it is not remembered, and trying again may succeed."""


def _limit_worker() -> None:
    """In a worker, before any work: die with its parent, give way to the server's sessions, bound memory."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the forkserver exits
        if os.getppid() == 1:  # the parent is already gone
            os._exit(1)
    with contextlib.suppress(OSError):
        os.nice(5)  # a compile is worth less than another session's click
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_BACKSTOP, CPU_BACKSTOP + 1))
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + WORKER_MEMORY
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _work(conn: socket.socket) -> None:
    """A worker's whole life: say its pid, read (text, work), answer, exit. Forked by _serve."""
    _limit_worker()
    conn.sendall(struct.pack("!q", os.getpid()))
    text, work = pickle.loads(_receive(conn))
    try:
        answer = ("ok", work(text))
    except FormulaError as e:
        answer = ("error", str(e))
    except MemoryError:
        answer = ("error", f"the formula needs more than {WORKER_MEMORY >> 20} MB of memory to compile; simplify it")
    except BaseException as e:  # noqa: BLE001 - report anything, so the parent never waits in vain
        answer = ("error", f"the formula cannot be compiled ({type(e).__name__}); simplify it")
    _send(conn, pickle.dumps(answer))


def _send(conn: socket.socket, data: bytes) -> None:
    conn.sendall(struct.pack("!q", len(data)) + data)


def _receive(conn: socket.socket) -> bytes:
    (size,) = struct.unpack("!q", _exactly(conn, 8))
    return _exactly(conn, size)


def _exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _serve(control_fd: int, warm_up=None) -> None:
    """The forkserver: a single-threaded process that forks one worker per request.

    Started once by exec (``_Server``), so a worker holds none of the server's sockets (a fork of the
    Streamlit server kept its listening socket open after a crash) and none of its locks (a fork of a
    threaded process can inherit a lock another thread held). Each request is a socket passed over the
    control socket; the worker answers on it. Exits when its parent does (stdin closes); its workers are
    killed then too (PR_SET_PDEATHSIG in _limit_worker).
    """
    control = socket.socket(fileno=control_fd)
    if warm_up is not None:
        warm_up()  # once, before any fork: what every worker would otherwise load again
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    while True:
        ready, _, _ = select.select([control, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            os._exit(0)
        if control in ready:
            msg, fds, _, _ = socket.recv_fds(control, 1, 4)
            if not msg:
                os._exit(0)
            for fd in fds:
                if os.fork() == 0:
                    control.close()
                    try:
                        _work(socket.socket(fileno=fd))
                    finally:
                        os._exit(0)
                os.close(fd)


class _Server:
    """The parent's handle on the forkserver: started on first use, restarted if it died."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    def connect(self) -> socket.socket:
        mine, theirs = socket.socketpair()
        try:
            with self.lock:
                self._running()
                socket.send_fds(self.control, [b"w"], [theirs.fileno()])
        finally:
            theirs.close()
        return mine

    def ensure_running(self) -> None:
        with self.lock:
            self._running()

    def _running(self) -> None:
        """Start the forkserver if it is not running (first use, or it died); the caller holds the lock."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()

    def _start(self) -> None:
        if self.control is not None:
            self.control.close()
        self.control, theirs = socket.socketpair()
        # the server imports the optlab this process imported, installed or run from the repo's folder: this
        # process's sys.path in its order ("" is the working directory), without the server's own "" (-c)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
        serve = ("import sys; sys.path[:] = [p for p in sys.path if p]; "
                 f"import optlab.formula as f, optlab.formula_worker as w; w._serve({theirs.fileno()}, f.warm_up)")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", serve],
            stdin=subprocess.PIPE, pass_fds=[theirs.fileno()], close_fds=True, env=env, start_new_session=True)
        theirs.close()


_SERVER = _Server()


def start_worker() -> None:
    """Start the formula worker's server now (it takes a second or two to load sympy) rather than on the
    first formula. Returns at once; the app calls it when it starts."""
    _SERVER.ensure_running()


def _cpu_seconds(pid: int) -> float | None:
    """The user CPU time a process has used, from /proc; None where there is no /proc. User time only: sympy's
    work is all user time, while system time grows with what the kernel does for a process on a loaded machine
    (a forked worker's copy-on-write page faults, reclaim under memory pressure). A formula that takes 50 ms
    was turned down as "too complex" in a CI run on a loaded machine, a dozen sessions compiling at once; what
    the formula itself costs is the user time. The kernel's backstop (CPU_BACKSTOP, RLIMIT_CPU) counts both."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) / os.sysconf("SC_CLK_TCK")


_PROC = os.path.exists(f"/proc/{os.getpid()}/stat")  # CPU times readable; else (macOS) a wall-clock bound


_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))  # workers at once: at most one per core


def _too_slow(seconds: float) -> FormulaError:
    return FormulaError(f"the formula is too complex: deriving its gradient took more than {seconds:g} s; "
                        "simplify it")


def run(text: str, work, seconds: float, queue: bool = True):
    """work(text) in a worker process, killed once it has used ``seconds`` of CPU time (sympy cannot be
    interrupted in a thread). CPU time, not wall time: a busy machine does not turn a formula down.
    ``work`` must be a module-level function (it is pickled by reference). ``queue=False``: no wait for one of
    the per-core slots, for the project's own short texts (the default formula every page falls back to)."""
    if not queue:
        return _in_worker(text, work, seconds)
    if not _SLOTS.acquire(timeout=WAIT_SECONDS):
        raise FormulaBusy("the formula cannot be compiled right now: the server is busy compiling others; "
                          "try again in a moment")
    try:
        return _in_worker(text, work, seconds)
    finally:
        _SLOTS.release()


def _in_worker(text: str, work, seconds: float):
    if not hasattr(socket, "send_fds") or not hasattr(os, "fork"):  # not POSIX: no bounds, in this thread
        return work(text)
    conn = _SERVER.connect()
    started = time.monotonic()
    used, pid = 0.0, None
    try:
        (pid,) = struct.unpack("!q", _exactly(conn, 8))
        _send(conn, pickle.dumps((text, work)))
        while True:
            ready, _, _ = select.select([conn], [], [], 0.01 if time.monotonic() - started < 0.2 else 0.05)
            if ready:
                break
            # No CPU time with /proc there: the worker has answered and exited between the poll and the read
            # (its answer is waiting: the next poll sees it). That was a 50 ms formula turned down as "too
            # complex" on a loaded machine, where the answer came more than `seconds` after the request.
            cpu = _cpu_seconds(pid)
            used = cpu if cpu is not None else used
            if used > seconds or (cpu is None and not _PROC and time.monotonic() - started > seconds):
                raise _too_slow(seconds)
            if time.monotonic() - started > WAIT_SECONDS:
                raise FormulaBusy(f"the formula could not be compiled right now: the server is overloaded (no "
                                  f"answer in {WAIT_SECONDS:g} s); try again in a moment")
        status, payload = pickle.loads(_receive(conn))
        pid = None  # answered: it exits by itself
    except EOFError:  # the worker died without a word: its CPU limit, its memory limit, or killed
        if used > 0.9 * seconds:
            raise _too_slow(seconds) from None
        raise FormulaError("the formula cannot be compiled (the worker stopped, most likely out of memory); "
                           "simplify it") from None
    finally:
        conn.close()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if status == "error":
        raise FormulaError(payload)
    return payload
