"""QA: the CLI client in a pty (interactive): type a line, see the echo, Ctrl-D closes (exit 0);
then again with Ctrl-C (exit 0). Usage: python cli_pty.py PORT BACKEND  (needs `wsproto --serve PORT`)"""
import os, pty, select, sys, time, signal
port, backend = sys.argv[1], sys.argv[2]
for how in ("ctrl-d", "ctrl-c"):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv("/tmp/qa-venv/bin/wsproto", ["wsproto", f"ws://127.0.0.1:{port}/", "--backend", backend])
    out = b""
    def pump(t):
        global out
        end = time.time() + t
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return
    pump(2.5)
    os.write(fd, b"typed line\r")
    pump(1.0)
    os.write(fd, b"\x04" if how == "ctrl-d" else b"\x03")
    pump(3.0)
    done, status = os.waitpid(pid, os.WNOHANG)
    if not done:
        os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
        print(f"[{backend} {how}] STILL RUNNING 3 s later; output: {out!r}")
    else:
        print(f"[{backend} {how}] exit {os.waitstatus_to_exitcode(status)}; output: {out.decode(errors='replace')!r}")
