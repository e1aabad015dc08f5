"""FrameDelivery: bounded frames in flight, the latest wins, expired frames stop blocking."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from byoc_lab.preview import FrameDelivery, PreviewFrame

IMAGE = np.zeros((8, 8, 3), dtype=np.uint8)


def frame(seq: int) -> PreviewFrame:
    return PreviewFrame(
        seq=seq, index=seq - 1, input=IMAGE, output=IMAGE, process_ms=1.0, error=None
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sent:
    def __init__(self) -> None:
        self.seqs: list[int] = []

    def __call__(self, frame: PreviewFrame) -> None:
        self.seqs.append(frame.seq)


def test_one_in_flight_latest_wins_and_drops_are_counted() -> None:
    sent, clock = Sent(), Clock()
    delivery = FrameDelivery(sent, ack_timeout=2.0, clock=clock)
    delivery.offer(frame(1))
    delivery.offer(frame(2))
    delivery.offer(frame(3))
    delivery.offer(frame(4))
    assert sent.seqs == [1]
    stats = delivery.stats()
    assert (stats.sent, stats.acked, stats.dropped, stats.in_flight) == (1, 0, 2, 1)
    delivery.ack(1)
    assert sent.seqs == [1, 4]  # the newest pending frame, at once
    delivery.ack(4)
    assert delivery.stats().in_flight is None
    delivery.offer(frame(5))
    assert sent.seqs == [1, 4, 5]
    stats = delivery.stats()
    assert (stats.sent, stats.acked, stats.dropped, stats.expired) == (3, 2, 2, 0)


def test_two_in_flight_overlap_round_trips_and_the_latest_still_wins() -> None:
    sent, clock = Sent(), Clock()
    delivery = FrameDelivery(sent, ack_timeout=2.0, max_in_flight=2, clock=clock)
    for seq in range(1, 6):
        delivery.offer(frame(seq))
    assert sent.seqs == [1, 2]  # two places; 3 and 4 were replaced by 5 while waiting
    stats = delivery.stats()
    assert (stats.in_flight_count, stats.in_flight, stats.dropped) == (2, 2, 2)
    delivery.ack(2)  # acknowledgements may come out of order: any frees a place
    assert sent.seqs == [1, 2, 5]
    delivery.ack(1)
    delivery.offer(frame(6))
    assert sent.seqs == [1, 2, 5, 6]
    clock.now += 2.5  # both lost: their places free up for the next offer
    delivery.offer(frame(7))
    assert sent.seqs == [1, 2, 5, 6, 7]
    stats = delivery.stats()
    assert (stats.expired, stats.in_flight_count, stats.acked) == (2, 1, 2)


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        FrameDelivery(Sent(), max_in_flight=0)


def test_unknown_duplicate_and_stale_acks_are_ignored() -> None:
    sent, clock = Sent(), Clock()
    delivery = FrameDelivery(sent, clock=clock)
    delivery.offer(frame(1))
    delivery.offer(frame(2))
    delivery.ack(99)
    delivery.ack(2)  # pending, never sent
    assert sent.seqs == [1]
    assert delivery.stats().acked == 0
    delivery.ack(1)
    delivery.ack(1)
    assert sent.seqs == [1, 2]
    assert delivery.stats().acked == 1


def test_an_unacknowledged_frame_expires_after_ack_timeout() -> None:
    sent, clock = Sent(), Clock()
    delivery = FrameDelivery(sent, ack_timeout=2.0, clock=clock)
    delivery.offer(frame(1))
    clock.now += 1.9
    delivery.offer(frame(2))
    assert sent.seqs == [1]
    clock.now += 0.2  # frame 1 is now older than ack_timeout
    delivery.offer(frame(3))
    assert sent.seqs == [1, 3]
    stats = delivery.stats()
    assert (stats.in_flight, stats.expired, stats.dropped) == (3, 1, 1)
    delivery.ack(1)  # late: it was drawn after all, but 3 still holds the slot
    assert delivery.stats().acked == 1
    assert delivery.stats().in_flight == 3
    delivery.offer(frame(4))
    assert sent.seqs == [1, 3]
    delivery.ack(3)
    assert sent.seqs == [1, 3, 4]


def test_flush_resends_the_pending_frame_once_the_one_in_flight_expired() -> None:
    sent, clock = Sent(), Clock()
    delivery = FrameDelivery(sent, ack_timeout=0.5, clock=clock)
    delivery.offer(frame(1))
    delivery.offer(frame(2))
    delivery.flush()
    assert sent.seqs == [1]
    clock.now += 0.6
    delivery.flush()
    assert sent.seqs == [1, 2]
    delivery.flush()
    assert sent.seqs == [1, 2]


def test_display_fps_counts_acks_over_a_window() -> None:
    sent, clock = Sent(), Clock()
    delivery = FrameDelivery(sent, clock=clock)
    for seq in range(1, 22):
        delivery.offer(frame(seq))
        delivery.ack(seq)
        clock.now += 0.05
    assert abs(delivery.stats().display_fps - 20.0) < 1.5
    clock.now += 3.0
    assert delivery.stats().display_fps == 0.0


def test_close_stops_sending() -> None:
    sent = Sent()
    delivery = FrameDelivery(sent)
    delivery.offer(frame(1))
    delivery.offer(frame(2))
    delivery.close()
    delivery.ack(1)
    delivery.offer(frame(3))
    delivery.flush()
    assert sent.seqs == [1]
    assert delivery.closed


def test_send_runs_outside_the_lock() -> None:
    calls: list[int] = []
    holder: list[FrameDelivery] = []

    def send(frame: PreviewFrame) -> None:
        holder[0].stats()  # would deadlock if send ran under the lock
        calls.append(frame.seq)
        if frame.seq == 1:
            holder[0].ack(1)  # a view answering synchronously

    delivery = FrameDelivery(send)
    holder.append(delivery)
    delivery.offer(frame(1))
    thread = threading.Thread(target=delivery.offer, args=(frame(2),))
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert calls == [1, 2]


def test_concurrent_offers_and_acks_keep_the_books() -> None:
    lock = threading.Lock()
    in_flight: list[int] = []

    def send(frame: PreviewFrame) -> None:
        with lock:
            in_flight.append(frame.seq)

    delivery = FrameDelivery(send, ack_timeout=60.0)
    offered = 2000
    done = threading.Event()

    def view() -> None:
        while not done.is_set() or in_flight:
            with lock:
                seq = in_flight.pop(0) if in_flight else None
            if seq is not None:
                delivery.ack(seq)

    viewer = threading.Thread(target=view)
    viewer.start()
    for seq in range(1, offered + 1):
        delivery.offer(frame(seq))
    done.set()
    viewer.join(10)
    assert not viewer.is_alive()
    stats = delivery.stats()
    assert stats.sent == stats.acked + (stats.in_flight is not None)
    pending = offered - stats.sent - stats.dropped
    assert pending in (0, 1)
    assert stats.sent >= 1
    assert stats.expired == 0
