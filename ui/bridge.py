"""Where the agent's threads cross into Qt: every callback becomes a signal, delivered on the GUI thread.

``AgentService`` calls its ``Listeners`` on the sampler's, uploader's and live connection's threads. Touching
a widget from those threads is undefined behaviour in Qt; emitting a signal of a QObject that lives in the
GUI thread is not (Qt queues it), so the listeners are this object's ``emit`` methods and nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from sync.service import Listeners


class Bridge(QObject):
    state = Signal(object)  # agent.states.PresenceChange
    sync = Signal(object)  # sync.uploader.SyncStatus
    link = Signal(object)  # sync.live.LiveStatus
    team = Signal(object)  # sync.live.TeamSnapshot
    ready = Signal(bool)  # the agent runs; True when enrolled
    show = Signal()  # a second ``staffpulse`` asked for the window
    me = Signal(object)  # protocol.schema.Me: the user, team, device and policy, as read at each connect
    idle_return = Signal(object)  # agent.returning.IdleReturn: ask the person
    idle_settled = Signal(object)  # agent.returning.IdleAnswer, or None when no answer came
    device_enrolled = Signal(object)  # protocol.schema.DeviceEnrolledEvent: another device enrolled as this user

    def listeners(self) -> Listeners:
        return Listeners(state=self.state.emit, sync=self.sync.emit, link=self.link.emit, team=self.team.emit,
                         ready=self.ready.emit, show=self.show.emit, me=self.me.emit,
                         idle_return=self.idle_return.emit, idle_settled=self.idle_settled.emit,
                         device_enrolled=self.device_enrolled.emit)
