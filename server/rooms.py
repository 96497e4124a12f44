"""python-socketio's room bookkeeping with an index of each socket's rooms, so a disconnect costs O(its rooms).

python-socketio 5 finds the rooms of a disconnecting socket by scanning every room of the namespace, and each
socket is a room of its own (its sid), so one disconnect costs O(sockets) and N sockets leaving together cost
O(N²): py-spy put a fifth of a 3,000-socket server's samples there, all while it stopped; a network blip that
drops every agent at once would stall the event loop the same way. ``IndexedRooms`` keeps sid → rooms up to
date in the three methods every join and leave goes through, and disconnects from those rooms alone.
``bench/rooms.py`` prints the difference; ``tests/server/test_rooms.py`` checks the bookkeeping stays
identical to python-socketio's own.
"""

from __future__ import annotations

from typing import Any

import socketio

Sid = str
Room = str | None  # None: the room of every connected socket


class IndexedRooms(socketio.AsyncManager):  # type: ignore[misc]  # python-socketio ships no type hints
    """The in-process manager (one server process)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._joined: dict[tuple[str, Sid], set[Room]] = {}  # (namespace, sid) → its rooms

    def basic_enter_room(self, sid: Sid, namespace: str, room: Room, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._joined.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: Sid, namespace: str, room: Room) -> None:
        super().basic_leave_room(sid, namespace, room)
        joined = self._joined.get((namespace, sid))
        if joined is not None:
            joined.discard(room)
            if not joined:
                del self._joined[(namespace, sid)]

    def basic_disconnect(self, sid: Sid, namespace: str, **_kwargs: Any) -> None:
        """``BaseManager.basic_disconnect`` with the room scan replaced by the index; the rest as it is there."""
        if namespace not in self.rooms:
            return
        for room in list(self._joined.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]


class IndexedRedisManager(IndexedRooms, socketio.AsyncRedisManager):  # type: ignore[misc]
    """The Redis manager (several server processes), with the same index."""
