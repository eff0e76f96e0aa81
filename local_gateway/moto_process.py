"""The embedded AWS in its own process: moto's ThreadedMotoServer, port reported on stdout.

A separate process gives moto its own interpreter lock, so the emulator and the handlers
(which call it) do not compete for one; on a small machine this roughly halves the time of
a large broadcast. The server lives until its stdin closes: the gateway closes it to stop
it, and a gateway killed outright closes it too, so no emulator is ever left behind.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from moto.server import ThreadedMotoServer

from local_gateway import moto_atomic, moto_speedups


def main() -> None:
    # Ctrl-C reaches the whole process group: the gateway decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_speedups.install()
    moto_atomic.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"{host} {port}", flush=True)
    sys.stdin.read()  # until EOF
    server.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
