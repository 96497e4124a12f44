"""A loopback TCP relay between the agent and the server that can cut, stall, slow and reset the network.

``support.proxy.FaultProxy`` scripts HTTP answers; this one works below HTTP, so it also breaks the live
websocket (which an HTTP proxy cannot carry) the way a network does: connections reset, dropped, or stalled.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time


class TcpFaultProxy:
    PASS, DELAY, STALL, DROP = "pass", "delay", "stall", "drop"

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = self.PASS
        self.delay_s = 0.0
        self.accepted = self.reset_count = self.refused = 0
        self.captured = bytearray()  # every byte relayed, both ways: what crossed the network
        self._lock = threading.Lock()
        self._flowing = threading.Condition(self._lock)
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def set(self, mode: str, delay_s: float = 0.0) -> None:
        """``pass``; ``delay``: every chunk waits ``delay_s``; ``stall``: nothing flows (a cable pulled: data
        waits, as TCP retransmits, until the mode changes); ``drop``: new connections are closed at once."""
        with self._flowing:
            self.mode, self.delay_s = mode, delay_s
            self._flowing.notify_all()

    def reset_all(self) -> int:
        """Reset every open connection (RST, as a NAT box or a dying router does); returns how many."""
        with self._lock:
            victims, self._open = list(self._open), set()
        for sock in victims:
            with contextlib.suppress(OSError):  # already closed by its pump
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # close() alone would wait for the pump thread blocked in recv() on this socket (Linux keeps
                # the file open until that call returns); shutdown wakes it, and its close sends the RST.
                sock.shutdown(socket.SHUT_RDWR)
        self.reset_count += len(victims)
        return len(victims)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.reset_all()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == self.DROP:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()  # the server is down: the client sees the connection closed
                continue
            upstream.settimeout(None)
            self.accepted += 1
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                with self._flowing:
                    self._flowing.wait_for(lambda: self.mode != self.STALL)
                    delay = self.delay_s if self.mode == self.DELAY else 0.0
                    self.captured += chunk
                if delay:
                    time.sleep(delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
